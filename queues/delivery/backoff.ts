import type { RetryPolicy } from '../core/index.js';
import { HOUR } from '../core/index.js';

/**
 * The longest a receiver's Retry-After can make us wait. A misbehaving (or hostile) receiver could
 * otherwise park a job for days with `Retry-After: 99999999`.
 */
export const RETRY_AFTER_CEILING_MS = 1 * HOUR;

/**
 * Beyond this many doublings any realistic delayMs has long passed any realistic cap; clamping the
 * exponent keeps `delayMs * 2 ** n` finite (and avoids `0 * Infinity = NaN`) for huge attempt counts.
 */
const MAX_DOUBLINGS = 64;

/** Negative or NaN settings must never turn into a negative or NaN delay. */
const atLeastZero = (value: number): number => (Number.isNaN(value) || value < 0 ? 0 : value);

function uncappedDelay(policy: RetryPolicy, attemptsMade: number): number {
  // An infinite base would survive every cap below as Infinity; treat it as garbage like NaN.
  const base = Number.isFinite(policy.delayMs) ? atLeastZero(policy.delayMs) : 0;
  if (policy.backoff === 'FIXED') return base;
  const doublings = Math.min(Math.max(Math.floor(attemptsMade) - 1, 0), MAX_DOUBLINGS);
  return base * 2 ** doublings;
}

/**
 * "Equal jitter": keep half of the delay so retries never bunch up at zero, randomise the other
 * half so a burst of failures does not retry in lockstep.
 */
function equalJitter(delay: number, random: () => number): number {
  const low = Math.ceil(delay / 2);
  const spread = Math.floor(atLeastZero(random()) * (delay - low + 1));
  // random() is meant to be < 1, but a sloppy source returning 1 must not push past the delay.
  return Math.min(low + spread, delay);
}

/**
 * The delay in ms before the next attempt, after `attemptsMade` (>= 1) failed attempts.
 * Always a non-negative integer no larger than `policy.maxDelayMs`.
 */
export function computeBackoff(
  policy: RetryPolicy,
  attemptsMade: number,
  random: () => number = Math.random,
): number {
  const cap = atLeastZero(policy.maxDelayMs);
  const delay = Math.floor(Math.min(uncappedDelay(policy, attemptsMade), cap));
  return policy.jitter ? equalJitter(delay, random) : delay;
}

/**
 * Like {@link computeBackoff}, but honours a receiver's Retry-After: we wait at least as long as it
 * asked, with the receiver's say limited to {@link RETRY_AFTER_CEILING_MS}. The policy's own delay
 * is never shortened: the operator's configuration outranks the receiver's hint.
 */
export function retryDelay(
  policy: RetryPolicy,
  attemptsMade: number,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number {
  const backoff = computeBackoff(policy, attemptsMade, random);
  if (retryAfterMs === null) return backoff;
  const asked = Math.ceil(Math.min(atLeastZero(retryAfterMs), RETRY_AFTER_CEILING_MS));
  return Math.max(backoff, asked);
}
