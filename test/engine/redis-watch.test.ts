/**
 * The engine's Redis watchdog (queues/engine/redis-watch.ts): a frozen Redis (SIGSTOP) is noticed
 * within a few hundred ms, and from then on publish, receive, ack and the key and rate-limit lookups
 * answer UNAVAILABLE at once instead of waiting for the command timeout; a call under way when it
 * froze answers then too (a publish saying its outcome is unknown); all is well again after SIGCONT.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../queues/core/errors.js';
import { createEngine, type Engine } from '../../queues/engine/engine.js';
import { type FaultRedis, startFaultRedis } from '../faults/processes.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';

let redis: FaultRedis | undefined;
let engine: Engine | undefined;

beforeAll(async () => {
  redis = await startFaultRedis();
});
afterAll(async () => {
  redis?.resume();
  await engine?.close();
  await redis?.close();
});

/** How a call failed: its code and details, and how long it took. */
async function refusal(call: () => Promise<unknown>) {
  const started = performance.now();
  try {
    await call();
    return { ms: performance.now() - started, code: 'OK', details: {} };
  } catch (error) {
    const ms = performance.now() - started;
    if (error instanceof SwitchyardError) return { ms, code: error.code, details: error.details };
    return { ms, code: `unexpected: ${(error as Error).message}`, details: {} };
  }
}

describe('the Redis watchdog', () => {
  it('should refuse at once while Redis is frozen, answer a call under way, and recover after SIGCONT', async () => {
    const r = redis as FaultRedis;
    const e = await createEngine({ redisUrl: r.url, keyPrefix: uniquePrefix(), runWorkers: false });
    engine = e;
    await e.createTopic({ name: 'jobs', kind: 'FANOUT' });
    await e.createQueue({ topic: 'jobs', name: 'work', target: 'CONSUMER' });
    await e.publish({ topic: 'jobs', payload: 1 });
    const [held] = await e.receive('jobs', 'work', 1, 0);
    expect(e.redis.available).toBe(true);

    const frozenAt = Date.now();
    r.pause();
    // Under way when Redis froze: answered when the watchdog sees it, not after the 5 s command timeout.
    const underWay = await refusal(() => e.publish({ topic: 'jobs', payload: 2 }));
    expect(underWay.code).toBe('UNAVAILABLE');
    expect(underWay.details).toEqual({ outcome: 'UNKNOWN' });
    expect(underWay.ms).toBeLessThan(2_000);
    await waitFor(() => !e.redis.available, { timeoutMs: 2_000 });
    const noticedMs = Date.now() - frozenAt;

    const calls = [
      () => e.publish({ topic: 'jobs', payload: 3 }),
      () => e.publishBatch([{ topic: 'jobs', payload: 4 }]),
      () => e.receive('jobs', 'work', 1, 0),
      () => e.ack(held?.id ?? ''),
      () => e.nack(held?.id ?? '', 'PROCESSING'),
      () => e.apiKeys.authenticate('sy_not_a_real_key'),
    ];
    const refused = [];
    for (let round = 0; round < 10; round++) for (const call of calls) refused.push(await refusal(call));
    expect(new Set(refused.map((entry) => entry.code))).toEqual(new Set(['UNAVAILABLE']));
    // Refused by the gate: nothing was sent, so no unknown outcome.
    expect(refused.filter((entry) => 'outcome' in entry.details)).toEqual([]);
    expect(Math.max(...refused.map((entry) => entry.ms))).toBeLessThan(50);
    console.log(
      `frozen Redis noticed after ${noticedMs} ms; ${refused.length} calls refused in ${Math.max(...refused.map((entry) => entry.ms)).toFixed(1)} ms at most`,
    );

    r.resume();
    await waitFor(() => e.redis.available, { timeoutMs: 5_000 });
    expect((await e.publish({ topic: 'jobs', payload: 5 })).message?.id).toBeDefined();
    expect(await e.ack(held?.id ?? '')).toBe(true);
  }, 30_000);
});
