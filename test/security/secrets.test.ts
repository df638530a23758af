import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { DeliveryEvent } from '../../queues/core/events.js';
import { waitFor } from '../helpers/redis.js';
import { ADMIN_KEY, type GraphQLAnswer, post, useGateways } from './gateway-harness.js';

const gateways = useGateways();

/** Every value stored under a prefix, as text: where a secret that should be hashed would show. */
async function everythingStored(
  redis: ReturnType<typeof gateways.redis.client>,
  prefix: string,
): Promise<string> {
  const parts: string[] = [];
  for (const key of await redis.keys(`${prefix}:*`)) {
    const type = await redis.type(key);
    if (type === 'string') parts.push((await redis.get(key)) ?? '');
    else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
    else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
    else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
    else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
  }
  return parts.join('\n');
}

describe('secrets', () => {
  it('should never appear in logs, error messages, events, dead letters or the audit log', async () => {
    const { gateway, url, logs, keyPrefix } = await gateways.start({ SWITCHYARD_ADMIN_KEY: ADMIN_KEY });
    const events: DeliveryEvent[] = [];
    gateway.engine.events.on((event) => events.push(event));
    const answers: GraphQLAnswer[] = [];
    const ask = async (query: string, options: Parameters<typeof post>[2] = {}) => {
      const answer = await post(url, query, options);
      answers.push(answer);
      return answer;
    };

    const { secret: apiKey } = await gateway.engine.apiKeys.create('svc', ['stats']);
    await ask('{ health { ok } }', { key: apiKey });
    await ask('{ health { ok } }', { key: `${apiKey}x` });
    await ask('{ health { ok } }', { headers: { authorization: `Basic ${apiKey}` } });
    await ask('{ health { ok } }', { key: `${ADMIN_KEY}0` });
    await ask(`{ health { ok } nope(key: "${apiKey}") }`, { key: ADMIN_KEY });

    const receiver = await gateways.receiver();
    receiver.respond = (_index, request) => ({ status: 400, body: `refused: ${request.body.slice(0, 50)}` });
    await ask('mutation { createTopic(input: { name: "orders", kind: FANOUT }) { name } }', {
      key: ADMIN_KEY,
    });
    const created = await ask(
      'mutation ($url: String!) { createQueue(input: { topic: "orders", name: "billing", target: WEBHOOK, url: $url, retry: { maxAttempts: 1 } }) { signingSecret } }',
      { key: ADMIN_KEY, variables: { url: receiver.url } },
    );
    const signingSecret =
      (created.body.data?.createQueue as { signingSecret?: string } | undefined)?.signingSecret ?? '';
    expect(signingSecret).toMatch(/^whsec_/);
    await ask('mutation { publish(input: { topic: "orders", payload: { n: 1 } }) { messageId } }', {
      key: ADMIN_KEY,
    });
    const rotated = await gateway.engine.rotateSigningSecret('orders', 'billing');
    const newSecret = rotated.signingSecret ?? '';
    await ask('mutation { publish(input: { topic: "orders", payload: { n: 2 } }) { messageId } }', {
      key: ADMIN_KEY,
    });

    const bull = new Queue('billing', {
      connection: gateways.redis.client(),
      prefix: gateway.engine.keys.bullPrefix('orders'),
    });
    try {
      await waitFor(async () => (await bull.getFailedCount()) === 2, {
        message: 'two dead letters expected',
      });
      await waitFor(() => events.filter((event) => event.kind === 'DEAD_LETTERED').length === 2);
      const failed = await bull.getFailed();
      const deadLetters = await Promise.all(
        failed.map(async (job) => ({
          data: job.data,
          failedReason: job.failedReason,
          stacktrace: job.stacktrace,
          logs: (await bull.getJobLogs(job.id ?? '')).logs,
        })),
      );
      const audit = await gateway.engine.auditLog.list(100);
      expect(audit.length).toBeGreaterThan(0);

      const places = {
        logs: logs.join('\n'),
        errors: JSON.stringify(answers.flatMap((answer) => answer.body.errors ?? [])),
        events: JSON.stringify(events),
        deadLetters: JSON.stringify(deadLetters),
        audit: JSON.stringify(audit),
      };
      expect(places.errors).toMatch(/Unknown or revoked API key/);
      expect(places.deadLetters).toMatch(/HTTP 400: refused/);
      for (const [where, text] of Object.entries(places)) {
        for (const [name, secret] of Object.entries({ apiKey, ADMIN_KEY, signingSecret, newSecret })) {
          expect(text.includes(secret), `${name} found in ${where}`).toBe(false);
          expect(text.includes(secret.slice(6, 30)), `part of ${name} found in ${where}`).toBe(false);
        }
      }
      // API keys are kept as hashes and the admin key not at all; signing secrets must be kept to sign.
      const stored = await everythingStored(gateways.redis.client(), keyPrefix);
      expect(stored.includes(apiKey)).toBe(false);
      expect(stored.includes(ADMIN_KEY)).toBe(false);
    } finally {
      await bull.close();
    }
  });
});
