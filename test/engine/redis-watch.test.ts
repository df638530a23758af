/**
 * The engine's Redis watchdog (queues/engine/redis-watch.ts): a frozen Redis (SIGSTOP) is noticed
 * within a few hundred ms, and from then on publish, receive, ack and the key and rate-limit lookups
 * answer UNAVAILABLE at once instead of waiting for the command timeout; a call under way when it
 * froze answers then too (a publish saying its outcome is unknown); all is well again after SIGCONT.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../queues/core/errors.js';
import { createEngine, type Engine } from '../../queues/engine/engine.js';
import { watchRedis } from '../../queues/engine/redis-watch.js';
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
    // A new watchdog holds to its upper limit (750 ms) for its first 5 s of answers.
    expect(e.redis.warmingUp).toBe(true);
    expect(e.redis.limitMs).toBe(750);
    await e.createTopic({ name: 'jobs', kind: 'FANOUT' });
    await e.createQueue({ topic: 'jobs', name: 'work', target: 'CONSUMER' });
    await e.publish({ topic: 'jobs', payload: 1 });
    const [held] = await e.receive('jobs', 'work', 1, 0);
    expect(e.redis.available).toBe(true);

    // After the warm-up, what it learned of a quiet Redis: near the 60 ms floor (up to 750 ms on a
    // loaded machine, where PINGs and timers wait).
    await waitFor(() => !e.redis.warmingUp, { timeoutMs: 15_000 });
    const limitAtFreeze = e.redis.limitMs;
    const frozenAt = Date.now();
    r.pause();
    // Under way when Redis froze: answered when the watchdog sees it, not after the 5 s command timeout.
    const underWay = await refusal(() => e.publish({ topic: 'jobs', payload: 2 }));
    expect(underWay.code).toBe('UNAVAILABLE');
    expect(underWay.details).toEqual({ outcome: 'UNKNOWN' });
    expect(underWay.ms).toBeLessThan(2_000);
    await waitFor(() => !e.redis.available, { timeoutMs: 2_000 });
    const noticedMs = Date.now() - frozenAt;
    // Within the limit and one PING interval (20 ms), with room for timers late on a loaded machine
    // (at a load average of 16 on 2 cores they run a few hundred ms late).
    expect(noticedMs).toBeLessThan(limitAtFreeze + 20 + 500);

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
      `frozen Redis noticed after ${noticedMs} ms (limit ${limitAtFreeze.toFixed(0)} ms); ${refused.length} calls refused in ${Math.max(...refused.map((entry) => entry.ms)).toFixed(1)} ms at most`,
    );

    r.resume();
    await waitFor(() => e.redis.available, { timeoutMs: 5_000 });
    expect((await e.publish({ topic: 'jobs', payload: 5 })).message?.id).toBeDefined();
    expect(await e.ack(held?.id ?? '')).toBe(true);
  }, 30_000);
});

/** Keeps Redis busy in one script for `ms`, as a long script of another client would. */
async function busyScript(redis: Redis, ms: number): Promise<number> {
  const started = performance.now();
  await redis.eval(
    "local t = redis.call('TIME'); local stop = t[1] * 1000000 + t[2] + tonumber(ARGV[1]) * 1000 " +
      "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= stop return 1",
    0,
    ms,
  );
  return performance.now() - started;
}

/** A watch on its own connection, a second client to keep Redis busy, and the outages the watch saw. */
async function openWatch(maxUnresponsiveAfterMs: number, busyLimitMs: number) {
  const r = redis as FaultRedis;
  const watched = new Redis(r.url, { enableOfflineQueue: false, lazyConnect: true });
  const other = new Redis(r.url);
  await watched.connect();
  const watch = watchRedis(watched, {
    pingIntervalMs: 20,
    unresponsiveAfterMs: 60,
    maxUnresponsiveAfterMs,
    busyLimitMs,
    warmUpMs: 0,
  });
  const outages: string[] = [];
  watch.onChange((available, how) => {
    if (!available) outages.push(how ?? '?');
  });
  const close = () => {
    watch.close();
    watched.disconnect();
    other.disconnect();
  };
  return { watch, other, outages, close };
}

describe('the watchdog limit', () => {
  it('should take one long script of another client for an outage once, then learn it', async () => {
    // A high upper bound, so that what a loaded machine teaches the limit before the script (its
    // timers late by a few hundred ms) leaves room for a script longer than the limit.
    const { watch, other, outages, close } = await openWatch(5_000, 10_000);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const quietLimit = watch.limitMs;
      // Longer than the limit by far more than timers run late: silence past the limit, an outage.
      const scriptMs = Math.round(quietLimit + 300);
      const firstMs = await busyScript(other, scriptMs);
      await waitFor(() => watch.available, { timeoutMs: 5_000 });
      expect(outages).toEqual(['silent']);
      // Learned: four times the slowest answer (a PING sent during the script waited most of it), so
      // the same script is no outage.
      await waitFor(() => watch.limitMs >= 2 * scriptMs, { timeoutMs: 2_000 });
      const secondMs = await busyScript(other, scriptMs);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(outages).toEqual(['silent']);
      expect(watch.available).toBe(true);
      console.log(
        `limit ${quietLimit.toFixed(0)} ms before, ${watch.limitMs.toFixed(0)} ms after a ${firstMs.toFixed(0)} ms script; a second (${secondMs.toFixed(0)} ms) was no outage`,
      );
    } finally {
      close();
    }
  }, 30_000);

  it('should not take a long command this process announced for an outage', async () => {
    const { watch, other, outages, close } = await openWatch(750, 5_000);
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const before = watch.limitMs;
      const done = watch.expectBusy(600);
      // A big command of our own: only the command timeout counts as an outage while it runs.
      expect(watch.limitMs).toBeGreaterThanOrEqual(Math.max(before + 600, 5_000));
      await busyScript(other, 300);
      done();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(outages).toEqual([]);
      // Once answered, the announcement is gone: the limit is what was learned (the script's 300 ms
      // PING wait, times four, capped at 750 ms), no longer 600 ms above it.
      expect(watch.limitMs).toBeLessThanOrEqual(750);
    } finally {
      close();
    }
  }, 30_000);

  it("should not take the engine's own big publishBatch for an outage", async () => {
    const r = redis as FaultRedis;
    const e = await createEngine({ redisUrl: r.url, keyPrefix: uniquePrefix(), runWorkers: false });
    const outages: string[] = [];
    e.redis.onChange((available) => {
      if (!available) outages.push('outage');
    });
    try {
      await e.createTopic({ name: 'bulk', kind: 'FANOUT' });
      for (let q = 0; q < 10; q++) await e.createQueue({ topic: 'bulk', name: `q${q}`, target: 'CONSUMER' });
      // Past the warm-up, so the limit is the learned one (on a quiet machine far below the batch's silence).
      await waitFor(() => !e.redis.warmingUp, { timeoutMs: 15_000 });
      const inputs = Array.from({ length: 500 }, (_, i) => ({
        topic: 'bulk',
        payload: { i, pad: 'x'.repeat(200) },
      }));
      const started = performance.now();
      const results = await e.publishBatch(inputs);
      const ms = performance.now() - started;
      expect(results).toHaveLength(500);
      expect(outages).toEqual([]);
      console.log(`publishBatch of 500 into 10 queues took ${ms.toFixed(0)} ms; no outage seen`);
    } finally {
      await e.close();
    }
  }, 60_000);
});
