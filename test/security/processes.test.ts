import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis, uniquePrefix } from '../helpers/redis.js';
import { type ChildGateway, spawnGateway, testEnv } from '../live/helpers.js';

/** Gateways in processes of their own (test/live/fixtures/gateway-child.ts): they share only Redis. */

const ADMIN_KEY = 'process-admin-key-0123456789abcdef';
let redis: TestRedis;
const children: ChildGateway[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterEach(async () => {
  await Promise.all(children.splice(0).map((child) => child.stop()));
});
afterAll(async () => {
  await redis?.stop();
});

async function ask(url: string, query: string, key: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as {
    data?: Record<string, unknown>;
    errors?: Array<{ extensions?: Record<string, unknown> }>;
  };
  return { status: response.status, body, retryAfter: response.headers.get('retry-after') };
}

describe('rate limits across gateway processes', { timeout: 60_000 }, () => {
  it('should hold a key to one bucket across two processes on one Redis', async () => {
    const env = testEnv({
      SWITCHYARD_PREFIX: uniquePrefix(),
      SWITCHYARD_ADMIN_KEY: ADMIN_KEY,
      SWITCHYARD_RATE_LIMIT_PER_SECOND: '1',
      SWITCHYARD_RATE_LIMIT_BURST: '5',
    });
    const [one, other] = await Promise.all([spawnGateway(redis.url, env), spawnGateway(redis.url, env)]);
    children.push(one, other);
    expect(one.pid).not.toBe(other.pid);
    const created = await ask(
      one.url,
      'mutation { createApiKey(name: "busy", scopes: ["stats"]) { secret } }',
      ADMIN_KEY,
    );
    const { secret } = (created.body.data?.createApiKey ?? {}) as { secret: string };

    const started = performance.now();
    const answers = [];
    for (let i = 0; i < 12; i++)
      answers.push(await ask(i % 2 === 0 ? one.url : other.url, '{ health { ok } }', secret));
    const elapsed = performance.now() - started;
    const statuses = answers.map((answer) => answer.status);
    // The burst of 5 is shared: five pass, alternating between processes, then the bucket is empty.
    // One token a second comes back, so a slow run may let one more through; never ten (two buckets).
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    const allowed = statuses.filter((status) => status === 200).length;
    expect(allowed).toBeLessThanOrEqual(5 + Math.floor(elapsed / 1000));
    const limited = answers.find((answer) => answer.status === 429);
    expect(limited?.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(limited?.body.errors?.[0]?.extensions?.retryAfterMs).toEqual(expect.any(Number));
    expect(limited?.retryAfter).toMatch(/^\d+$/);
    // The admin key has its own bucket, untouched by the API key's.
    expect((await ask(other.url, '{ health { ok } }', ADMIN_KEY)).status).toBe(200);
  });
});
