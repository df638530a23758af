/**
 * The service client (client/) against a real gateway: a listening server on loopback, its own
 * redis-server for the file, a key prefix per test, real websockets and a real webhook receiver.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSwitchyardClient,
  type Delivery,
  type SwitchyardClient,
  SwitchyardError,
  verifyWebhook,
} from '../../client/index.js';
import { startReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';
import { dataCaller, useLiveGateways } from '../live/helpers.js';

const { pool, redis, receivers } = useLiveGateways();
const ADMIN_KEY = 'client-test-admin-key-0123456789';
const clients: SwitchyardClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

/** A gateway with an admin key, a FANOUT topic `jobs`, a CONSUMER queue `work`, and a client on it. */
async function setup(queue: { maxAttempts?: number } = {}) {
  const { url, gateway } = await pool.start(redis.url, { SWITCHYARD_ADMIN_KEY: ADMIN_KEY });
  const admin = dataCaller(url, ADMIN_KEY);
  await admin('mutation { createTopic(input: { name: "jobs", kind: FANOUT }) { name } }');
  await admin(
    `mutation($max: Int) { createQueue(input: {
      topic: "jobs", name: "work", target: CONSUMER, ackTimeoutMs: 10000, retry: { maxAttempts: $max, delayMs: 0 }
    }) { name } }`,
    { max: queue.maxAttempts ?? 5 },
  );
  const client = createSwitchyardClient({ url, apiKey: ADMIN_KEY });
  clients.push(client);
  return { url, gateway, admin, client };
}

/** The code of the SwitchyardError `promise` rejects with. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SwitchyardError);
  return (error as SwitchyardError).code;
}

describe('publish', () => {
  it('should answer the message id and the queues it reached', async () => {
    const { client } = await setup();
    const result = await client.publish({ topic: 'jobs', payload: { n: 1 }, headers: { tenant: 'eu' } });
    expect(result).toEqual({ messageId: expect.any(String), duplicate: false, routedTo: ['work'] });
    const [delivery] = await client.receive({ topic: 'jobs', queue: 'work' });
    expect(delivery?.message).toMatchObject({
      id: result.messageId,
      topic: 'jobs',
      headers: { tenant: 'eu' },
      payload: { n: 1 },
    });
  });

  it('should store a message once per idempotency key', async () => {
    const { client } = await setup();
    const first = await client.publish({ topic: 'jobs', payload: 1, idempotencyKey: 'k-1' });
    const again = await client.publish({ topic: 'jobs', payload: 1, idempotencyKey: 'k-1' });
    expect(again).toMatchObject({ messageId: first.messageId, duplicate: true });
  });

  it('should publish a batch in order, all of it', async () => {
    const { client } = await setup();
    const results = await client.publishBatch([1, 2, 3].map((n) => ({ topic: 'jobs', payload: n })));
    expect(results.map((result) => result.routedTo)).toEqual([['work'], ['work'], ['work']]);
    const deliveries = await client.receive({ topic: 'jobs', queue: 'work', max: 10 });
    expect(deliveries.map((delivery) => delivery.message.payload)).toEqual([1, 2, 3]);
    expect(deliveries.map((delivery) => delivery.message.id)).toEqual(
      results.map((result) => result.messageId),
    );
  });
});

describe('consume', () => {
  it('should push every message and take acks until the queue is empty', async () => {
    const { client, gateway } = await setup();
    await client.publishBatch([1, 2, 3, 4].map((n) => ({ topic: 'jobs', payload: n })));
    const consumer = client.consume({ topic: 'jobs', queue: 'work', prefetch: 2 });
    const seen: unknown[] = [];
    for await (const delivery of consumer) {
      expect(delivery.attempt).toBe(1);
      seen.push(delivery.message.payload);
      await delivery.ack();
      if (seen.length === 4) break;
    }
    expect(seen).toEqual([1, 2, 3, 4]);
    const stats = await gateway.engine.queueStats({ topic: 'jobs', name: 'work' });
    expect(stats).toMatchObject({ waiting: 0, active: 0, completed: 4 });
  });

  it('should hand an unacked delivery back to the queue when the consumer closes', async () => {
    const { client } = await setup();
    await client.publish({ topic: 'jobs', payload: 'again' });
    const consumer = client.consume({ topic: 'jobs', queue: 'work' });
    const first = await consumer.next();
    expect(first.done).toBe(false);
    await consumer.close();
    expect(await consumer.next()).toEqual({ done: true, value: undefined });
    const redelivered = await waitFor(
      async () => (await client.receive({ topic: 'jobs', queue: 'work' }))[0],
      { timeoutMs: 5_000, message: 'the closed consumer never released its delivery' },
    );
    expect(redelivered?.message.payload).toBe('again');
    expect(await codeOf((first.value as Delivery).ack())).toBe('NOT_FOUND');
  });

  it('should throw the refusal of a WEBHOOK queue from the loop with BAD_USER_INPUT', async () => {
    const { client, admin } = await setup();
    await admin(
      'mutation { createQueue(input: { topic: "jobs", name: "hook", target: WEBHOOK, url: "http://127.0.0.1:9/" }) { name } }',
    );
    const consumer = client.consume({ topic: 'jobs', queue: 'hook' });
    expect(await codeOf(consumer.next())).toBe('BAD_USER_INPUT');
    expect(await consumer.next()).toEqual({ done: true, value: undefined });
  });
});

describe('receive, ack and nack over HTTP', () => {
  it('should retry a nacked delivery as the next attempt', async () => {
    const { client } = await setup();
    await client.publish({ topic: 'jobs', payload: 'flaky' });
    const [first] = await client.receive({ topic: 'jobs', queue: 'work' });
    if (!first) throw new Error('nothing received');
    await first.nack({ reason: 'PROCESSING', error: 'try later', retryAfterMs: 0 });
    const [second] = await client.receive({ topic: 'jobs', queue: 'work', waitMs: 3_000 });
    expect(second).toMatchObject({ attempt: 2, message: { id: first.message.id } });
    await client.ack(second?.id ?? '');
    expect(await client.receive({ topic: 'jobs', queue: 'work' })).toEqual([]);
  });
});

describe('dead letters', () => {
  it('should list a rejected delivery, replay it, and discard it', async () => {
    const { client } = await setup();
    const { messageId } = await client.publish({ topic: 'jobs', payload: { order: 7 } });
    const [delivery] = await client.receive({ topic: 'jobs', queue: 'work' });
    await delivery?.nack({ reason: 'REJECTED', error: 'bad order' });

    const page = await client.deadLetters.list({ filter: { topic: 'jobs', queue: 'work' } });
    expect(page.totalCount).toBe(1);
    const letter = page.edges[0]?.node;
    expect(letter).toMatchObject({
      topic: 'jobs',
      queue: 'work',
      reason: 'REJECTED',
      error: 'bad order',
      replayCount: 0,
      message: { id: messageId, payload: { order: 7 } },
    });
    if (!letter) throw new Error('no dead letter');
    expect(await client.deadLetters.get(letter.id)).toEqual(letter);

    expect(await client.deadLetters.replay(letter.id)).toEqual({ replayed: 1, failed: 0, ids: [letter.id] });
    const [again] = await client.receive({ topic: 'jobs', queue: 'work', waitMs: 3_000 });
    expect(again?.message).toMatchObject({ id: messageId, payload: { order: 7 } });
    await again?.nack({ reason: 'REJECTED' });

    const replayed = await waitFor(() => client.deadLetters.get(letter.id), { timeoutMs: 5_000 });
    expect(replayed?.replayCount).toBe(1);
    expect(await client.deadLetters.discard(letter.id)).toBe(true);
    expect(await client.deadLetters.get(letter.id)).toBeNull();
    expect((await client.deadLetters.list()).totalCount).toBe(0);
  });

  it('should replay and discard by filter', async () => {
    const { client } = await setup({ maxAttempts: 1 });
    await client.publishBatch([1, 2, 3].map((n) => ({ topic: 'jobs', payload: n })));
    for (const delivery of await client.receive({ topic: 'jobs', queue: 'work', max: 3 }))
      await delivery.nack({ error: 'out of attempts' });
    expect((await client.deadLetters.list({ filter: { reason: 'PROCESSING' } })).totalCount).toBe(3);
    expect(await client.deadLetters.replayMatching({ queue: 'work' }, 2)).toMatchObject({ replayed: 2 });
    expect(await client.deadLetters.discardMatching({ topic: 'jobs' })).toBe(1);
    expect((await client.deadLetters.list()).totalCount).toBe(0);
  });
});

describe('refusals', () => {
  it('should throw a SwitchyardError with the GraphQL extensions.code', async () => {
    const { client } = await setup();
    const error = await client.publish({ topic: 'nope', payload: {} }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SwitchyardError);
    expect(error).toMatchObject({
      code: 'NOT_FOUND',
      message: 'Topic nope does not exist',
      extensions: { code: 'NOT_FOUND' },
      path: ['publish'],
    });
    expect(await codeOf(client.ack('not-a-delivery-id'))).toBe('BAD_USER_INPUT');
    expect(await codeOf(client.receive({ topic: 'jobs', queue: 'work', max: 0 }))).toBe('BAD_USER_INPUT');
    expect(await codeOf(client.deadLetters.replay('jobs/work/missing'))).toBe('NOT_FOUND');
  });

  it('should refuse a wrong API key with UNAUTHENTICATED, over HTTP and over the websocket', async () => {
    const { url } = await setup();
    // The default retryAttempts: a refused key must not be retried (graphql-ws would, with backoff).
    const client = createSwitchyardClient({ url, apiKey: 'not-the-admin-key-0123456789' });
    clients.push(client);
    expect(await codeOf(client.publish({ topic: 'jobs', payload: 1 }))).toBe('UNAUTHENTICATED');
    const started = Date.now();
    expect(await codeOf(client.consume({ topic: 'jobs', queue: 'work' }).next())).toBe('UNAUTHENTICATED');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('should answer UNAVAILABLE when nothing listens', async () => {
    const client = createSwitchyardClient({ url: 'http://127.0.0.1:9/graphql', retryAttempts: 0 });
    clients.push(client);
    expect(await codeOf(client.publish({ topic: 'jobs', payload: 1 }))).toBe('UNAVAILABLE');
    expect(await codeOf(client.consume({ topic: 'jobs', queue: 'work' }).next())).toBe('UNAVAILABLE');
  });

  it('should give up on a gateway that does not answer within timeoutMs with TIMEOUT', async () => {
    const silent = await startReceiver();
    receivers.push(silent);
    silent.respond = () => ({ status: 200, delayMs: 5_000 });
    const client = createSwitchyardClient({ url: silent.url, timeoutMs: 200 });
    clients.push(client);
    expect(await codeOf(client.publish({ topic: 'jobs', payload: 1 }))).toBe('TIMEOUT');
  });

  it('should refuse a URL that is not http(s) with BAD_USER_INPUT', () => {
    expect(() => createSwitchyardClient({ url: 'ftp://127.0.0.1/graphql' })).toThrow(SwitchyardError);
  });
});

describe('verifyWebhook', () => {
  it('should verify a real signed delivery and refuse a tampered one', async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    const { admin, client } = await setup();
    const { createQueue } = await admin<{ createQueue: { signingSecret: string } }>(
      'mutation($url: String!) { createQueue(input: { topic: "jobs", name: "hook", target: WEBHOOK, url: $url }) { signingSecret } }',
      { url: receiver.url },
    );
    const secret = createQueue.signingSecret;
    expect(secret).toMatch(/^whsec_/);
    const { messageId } = await client.publish({
      topic: 'jobs',
      payload: { total: 19.9 },
      routingKey: 'a.b',
    });
    const request = await waitFor(() => receiver.requests[0], {
      timeoutMs: 10_000,
      message: 'the webhook never arrived',
    });
    if (!request) throw new Error('no request');

    const message = verifyWebhook({ secret, body: request.body, headers: request.headers });
    expect(message).toMatchObject({
      id: messageId,
      topic: 'jobs',
      routingKey: 'a.b',
      payload: { total: 19.9 },
    });
    // A rotation: the receiver holds the new secret and the old one; either verifies.
    expect(verifyWebhook({ secret: [secret, secret], body: request.body, headers: request.headers })).toEqual(
      message,
    );
    expect(
      verifyWebhook({
        secret,
        body: new TextEncoder().encode(request.body),
        headers: new Headers(request.headers as Record<string, string>),
      }),
    ).toEqual(message);

    const tampered = request.body.replace('19.9', '1999');
    expect(() => verifyWebhook({ secret, body: tampered, headers: request.headers })).toThrow(
      expect.objectContaining({ code: 'INVALID_SIGNATURE' }),
    );
    const otherSecret = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;
    expect(() =>
      verifyWebhook({ secret: otherSecret, body: request.body, headers: request.headers }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_SIGNATURE' }));
    expect(() =>
      verifyWebhook({ secret: 'whsec_!!!', body: request.body, headers: request.headers }),
    ).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
  });
});
