import { LIMITS, type TargetKind } from '../queues/core/index.js';

/**
 * A queue's concurrency settings as far as they are known: what the file states, or, checked against
 * Redis, what the file states with the stored range standing in for ends the file leaves out.
 * `undefined` is "not stated", `null` is "no range" (both null make the concurrency fixed again).
 */
export interface ConcurrencyDeclaration {
  target: TargetKind;
  concurrency?: number | null | undefined;
  minConcurrency?: number | null | undefined;
  maxConcurrency?: number | null | undefined;
}

/**
 * The concurrency-range rules of createQueue/updateQueue (queues/registry/queue-settings.ts), in the
 * same order and with the same messages, so an operator reads the API's words whether the range came
 * over GraphQL or from the file; each problem names the field at `at`. Checking here, before anything is
 * applied, is what lets a bad range refuse the whole file with nothing changed. Unlike an update, a
 * file states the range whole: one end alone is refused, as it would be on createQueue.
 * test/server/topology.test.ts holds each message to the API's.
 */
export function concurrencyRangeProblems(at: string, declared: ConcurrencyDeclaration): string[] {
  const { minConcurrency: min, maxConcurrency: max, concurrency } = declared;
  const problem = (field: string, message: string) => [`${at}.${field}: ${message}`];
  const needsBoth = (missing: string) =>
    problem(
      missing,
      `A concurrency range needs both minConcurrency and maxConcurrency; ${missing} is missing`,
    );
  if (min === undefined && max === undefined) return [];
  if (min === undefined || max === undefined)
    return needsBoth(min === undefined ? 'minConcurrency' : 'maxConcurrency');
  if (min === null && max === null) return [];
  if (min === null || max === null) return needsBoth(min === null ? 'minConcurrency' : 'maxConcurrency');
  for (const [field, value] of [
    ['minConcurrency', min],
    ['maxConcurrency', max],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > LIMITS.concurrency)
      return problem(field, `${field} must be an integer from 1 to ${LIMITS.concurrency}, got ${value}`);
  }
  if (min > max)
    return problem('minConcurrency', `minConcurrency (${min}) must be at most maxConcurrency (${max})`);
  if (declared.target !== 'WEBHOOK') {
    return problem(
      'minConcurrency',
      'Only WEBHOOK queues take a concurrency range: consumers pace CONSUMER queues',
    );
  }
  if (concurrency != null && (concurrency < min || concurrency > max)) {
    return problem(
      'concurrency',
      `concurrency (${concurrency}) must lie within minConcurrency..maxConcurrency (${min}..${max})`,
    );
  }
  return [];
}
