import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff } from '../client/generated/schema.js';
import type { RetryPolicy } from '../queues/core/types.js';
import { computeBackoff, RETRY_AFTER_CEILING_MS, retryDelay } from '../queues/delivery/backoff.js';

const policy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({
  maxAttempts: 5,
  backoff: 'EXPONENTIAL',
  delayMs: 1000,
  maxDelayMs: 60_000,
  jitter: false,
  ...overrides,
});

const always = (value: number) => () => value;

describe('computeBackoff', () => {
  it('keeps a FIXED delay constant', () => {
    const fixed = policy({ backoff: 'FIXED', delayMs: 750 });
    expect([1, 2, 3, 10, 100].map((n) => computeBackoff(fixed, n))).toEqual([750, 750, 750, 750, 750]);
  });

  it('doubles an EXPONENTIAL delay per failed attempt', () => {
    const exp = policy({ delayMs: 100, maxDelayMs: 1_000_000 });
    expect([1, 2, 3, 4, 5].map((n) => computeBackoff(exp, n))).toEqual([100, 200, 400, 800, 1600]);
  });

  it('caps both kinds at maxDelayMs', () => {
    expect(computeBackoff(policy({ delayMs: 1000, maxDelayMs: 5000 }), 4)).toBe(5000);
    expect(computeBackoff(policy({ backoff: 'FIXED', delayMs: 9000, maxDelayMs: 5000 }), 1)).toBe(5000);
  });

  it('stays finite and capped for huge attempt numbers', () => {
    for (const attempts of [60, 1024, 10_000, Number.MAX_SAFE_INTEGER]) {
      expect(computeBackoff(policy({ maxDelayMs: 30_000 }), attempts)).toBe(30_000);
      expect(computeBackoff(policy({ delayMs: 0 }), attempts)).toBe(0);
    }
  });

  it('applies equal jitter: half the delay plus a random share of the other half', () => {
    const jittery = policy({ delayMs: 1000, jitter: true });
    expect(computeBackoff(jittery, 1, always(0))).toBe(500);
    expect(computeBackoff(jittery, 1, always(0.5))).toBe(750);
    expect(computeBackoff(jittery, 1, always(0.999_999))).toBe(1000);
    // A random source that (wrongly) returns 1 still cannot exceed the delay.
    expect(computeBackoff(jittery, 1, always(1))).toBe(1000);
    expect(computeBackoff(jittery, 3, always(0))).toBe(2000);
  });

  it('keeps jittered delays integral, within [d/2, d] and under the cap', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(Backoff)),
        fc.integer({ min: 0, max: 600_000 }),
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (backoff, delayMs, maxDelayMs, attempts, r) => {
          const base = policy({ backoff, delayMs, maxDelayMs });
          const d = computeBackoff(base, attempts);
          const jittered = computeBackoff({ ...base, jitter: true }, attempts, always(r));
          expect(Number.isInteger(jittered)).toBe(true);
          expect(jittered).toBeGreaterThanOrEqual(d / 2);
          expect(jittered).toBeLessThanOrEqual(d);
          expect(jittered).toBeLessThanOrEqual(maxDelayMs);
        },
      ),
    );
  });
});

describe('retryDelay', () => {
  const base = policy({ backoff: 'FIXED', delayMs: 1000, maxDelayMs: 10_000 });

  it('uses the backoff when the receiver gave no Retry-After', () => {
    expect(retryDelay(base, 1, null)).toBe(1000);
  });

  it('waits at least as long as Retry-After asks', () => {
    expect(retryDelay(base, 1, 30_000)).toBe(30_000);
    // ...even beyond the policy cap, since the receiver said it cannot take us sooner.
    expect(retryDelay(base, 1, 20_000)).toBeGreaterThan(base.maxDelayMs);
  });

  it('keeps the backoff when Retry-After is shorter', () => {
    expect(retryDelay(base, 1, 200)).toBe(1000);
    expect(retryDelay(base, 1, 0)).toBe(1000);
  });

  it('never lets Retry-After push past the one hour ceiling', () => {
    expect(RETRY_AFTER_CEILING_MS).toBe(3_600_000);
    expect(retryDelay(base, 1, 10 * RETRY_AFTER_CEILING_MS)).toBe(RETRY_AFTER_CEILING_MS);
    expect(retryDelay(base, 1, Number.POSITIVE_INFINITY)).toBe(RETRY_AFTER_CEILING_MS);
  });

  it('ignores nonsense Retry-After values', () => {
    expect(retryDelay(base, 1, Number.NaN)).toBe(1000);
    expect(retryDelay(base, 1, -5000)).toBe(1000);
  });

  it('passes the random source through to the jitter', () => {
    expect(retryDelay({ ...base, jitter: true }, 1, null, always(0))).toBe(500);
  });
});
