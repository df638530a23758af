import { describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import type { RateLimitVerdict } from '../../queues/security/rate-limit.js';
import { useEngineHarness } from '../engine/harness.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';

const harness = useEngineHarness();

function limiterOf(engine: Engine) {
  const limiter = engine.rateLimiter;
  if (!limiter) throw new Error('rate limiting is off');
  return limiter;
}

describe('per-key token bucket', () => {
  it('should be off unless asked for', async () => {
    const engine = await harness.engine({ runWorkers: false });
    expect(engine.rateLimiter).toBeNull();
  });

  it('should hold across two engines on one Redis: the burst is shared, then RATE_LIMITED with a wait', async () => {
    const keyPrefix = uniquePrefix();
    // 1 token a second: none comes back during the test, so the count is exact.
    const rateLimit = { perSecond: 1, burst: 6 };
    const one = limiterOf(await harness.engine({ keyPrefix, rateLimit, runWorkers: false }));
    const other = limiterOf(await harness.engine({ keyPrefix, rateLimit, runWorkers: false }));
    const verdicts: RateLimitVerdict[] = [];
    for (let i = 0; i < 10; i++) verdicts.push(await (i % 2 === 0 ? one : other).take('key-1'));
    expect(verdicts.filter((verdict) => verdict.allowed)).toHaveLength(6);
    expect(verdicts.slice(0, 6).every((verdict) => verdict.allowed)).toBe(true);
    for (const verdict of verdicts.slice(6)) {
      expect(verdict.allowed).toBe(false);
      if (!verdict.allowed) {
        expect(verdict.retryAfterMs).toBeGreaterThan(0);
        expect(verdict.retryAfterMs).toBeLessThanOrEqual(1_000);
      }
    }
  });

  it('should give every key a bucket of its own', async () => {
    const limiter = limiterOf(
      await harness.engine({ rateLimit: { perSecond: 1, burst: 1 }, runWorkers: false }),
    );
    expect(await limiter.take('a')).toEqual({ allowed: true });
    expect((await limiter.take('a')).allowed).toBe(false);
    expect(await limiter.take('b')).toEqual({ allowed: true });
  });

  it('should refill at the configured rate and allow again after retryAfterMs', async () => {
    const limiter = limiterOf(
      await harness.engine({ rateLimit: { perSecond: 20, burst: 1 }, runWorkers: false }),
    );
    expect((await limiter.take('k')).allowed).toBe(true);
    const refused = await limiter.take('k');
    if (refused.allowed) throw new Error('expected a refusal');
    expect(refused.retryAfterMs).toBeLessThanOrEqual(50);
    const started = Date.now();
    await waitFor(async () => (await limiter.take('k')).allowed, { timeoutMs: 1_000, intervalMs: 10 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(refused.retryAfterMs - 15);
  });

  it('should let its bucket expire once it would be full again', async () => {
    const engine = await harness.engine({ rateLimit: { perSecond: 100, burst: 10 }, runWorkers: false });
    await limiterOf(engine).take('k');
    const ttl = await harness.redis.client().pttl(engine.keys.rateBucket('k'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1_100 + 100);
  });
});
