import { describe, expect, it } from 'vitest';
import { createRedactor, REDACTED } from '../../queues/delivery/redaction.js';
import { eventually, FAST_RETRY } from '../engine/harness.js';
import { consumerTopic, deadLetter, listAll, useEngineHarness } from './helpers.js';

const harness = useEngineHarness();

describe('createRedactor', () => {
  const redact = createRedactor();

  it.each([
    ['authorization: Bearer abc.def', `authorization: ${REDACTED}`],
    ['Authorization=Basic dXNlcjpwYXNz&x=1', `Authorization=${REDACTED}&x=1`],
    [
      '{"headers":{"X-Api-Key":"k1","accept":"*/*"}}',
      `{"headers":{"X-Api-Key":"${REDACTED}","accept":"*/*"}}`,
    ],
    ["{'client_secret': 's3cr3t'}", `{'client_secret': '${REDACTED}'}`],
    ['{\\"access_token\\":\\"t0k\\"}', `{\\"access_token\\":\\"${REDACTED}\\"}`],
    ['cookie: session=1; theme=dark', `cookie: ${REDACTED}`],
    [
      'HTTP 401: authorization: Basic dXNlcjpwYXNz x-trace: 7',
      `HTTP 401: authorization: ${REDACTED} x-trace: 7`,
    ],
    ['signed with whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', `signed with whsec_${REDACTED}`],
    ['upstream said: Bearer eyJhbGciOi.x.y', `upstream said: Bearer ${REDACTED}`],
    ['content-type: text/plain; tokens: 3', `content-type: text/plain; tokens: ${REDACTED}`],
    ['HTTP 500: nothing secret here', 'HTTP 500: nothing secret here'],
  ])('should redact %j', (text, expected) => {
    expect(redact(text)).toBe(expected);
    expect(redact(redact(text))).toBe(expected);
  });

  it('should take its own list of case-insensitive globs, and refuse a bad one', () => {
    const custom = createRedactor(['x-custom-*']);
    expect(custom('X-Custom-Auth: 42 authorization: x')).toBe(`X-Custom-Auth: ${REDACTED} authorization: x`);
    expect(() => createRedactor(['no spaces'])).toThrow(/redaction pattern "no spaces"/);
  });

  it('should cut an error longer than 2048 characters', () => {
    expect(redact('x'.repeat(5000))).toHaveLength(2049);
  });
});

describe('redaction in stored dead letters', () => {
  it('should store no header value or signing secret a receiver echoes back', async () => {
    const engine = await harness.engine();
    const receiver = await harness.receiver();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const queue = await engine.createQueue({
      topic: 'orders',
      name: 'hook',
      target: 'WEBHOOK',
      url: receiver.url,
      retry: { ...FAST_RETRY, maxAttempts: 2 },
    });
    const secret = queue.signingSecret ?? '';
    // A receiver that echoes headers, and even a signing secret under a name no pattern lists.
    receiver.respond = () => ({
      status: 401,
      body: JSON.stringify({
        echo: { authorization: 'Bearer s3cret-token', 'x-api-key': 'k-123' },
        hint: secret,
      }),
    });
    await engine.publish({ topic: 'orders', payload: 1 });

    const dead = await eventually(async () => (await listAll(engine))[0]);
    const job = await harness.bullQueue(engine, 'orders', 'hook').getJob(dead.message.id);
    const { logs } = await harness.bullQueue(engine, 'orders', 'hook').getJobLogs(dead.message.id);
    // What Redis holds (what bull-board shows), not only what the API answers.
    const stored = [
      job?.failedReason ?? '',
      ...logs,
      dead.error,
      ...dead.history.map((record) => record.error),
    ];
    expect(stored.join('\n')).not.toMatch(/s3cret-token|k-123/);
    expect(stored.join('\n')).not.toContain(secret.slice(6));
    expect(dead.error).toContain(`"authorization":"${REDACTED}"`);
    expect(dead.error).toContain(`whsec_${REDACTED}`);
    expect(JSON.stringify(dead)).not.toContain(secret.slice(6));
  });

  it('should redact a consumer nack error with the configured list', async () => {
    const engine = await harness.engine({ deadLetters: { redactHeaders: ['x-tenant-*'] } });
    await consumerTopic(engine, 'orders', ['a']);
    await deadLetter(engine, 'orders', 'a', 1, 'REJECTED', () => 'x-tenant-key: 991 authorization: visible');

    const [dead] = await listAll(engine);
    expect(dead?.error).toBe(`x-tenant-key: ${REDACTED} authorization: visible`);
    const job = await harness.bullQueue(engine, 'orders', 'a').getJob(dead?.message.id ?? '');
    expect(job?.failedReason).toBe(`REJECTED: x-tenant-key: ${REDACTED} authorization: visible`);
  });
});
