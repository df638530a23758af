import { ErrorCode, SwitchyardError } from '../queues/core/index.js';
import type { Engine } from '../queues/engine/index.js';

/** What a live subscription is sent when Redis stops answering: one `next` with this error, per outage. */
export const redisOutageNotice = () =>
  new SwitchyardError(
    ErrorCode.Unavailable,
    'Redis is unreachable: nothing is delivered until it is back. This subscription stays open and ' +
      'resumes by itself; no need to subscribe again.',
    { notice: 'REDIS_OUTAGE' },
  );

/** A subscription started while Redis does not answer is refused with this (then completed). */
export const redisUnavailable = () =>
  new SwitchyardError(ErrorCode.Unavailable, 'Redis is unreachable; subscribe again in a moment.');

/** For a subscription field's `resolve`: an outage notice becomes the event's error, the rest passes. */
export function throwNotice<T>(item: T | SwitchyardError): T {
  if (item instanceof SwitchyardError) throw item;
  return item;
}

/**
 * `source`, plus an UNAVAILABLE notice each time the engine's watchdog sees Redis stop answering
 * (docs/PROTOCOL.md, "Redis outages"). The subscription is kept: what the source yields once Redis is
 * back follows as usual. Notices are never buffered beyond one per outage.
 */
export function withRedisNotices<T>(
  engine: Pick<Engine, 'redis'>,
  source: AsyncIterableIterator<T>,
): AsyncIterableIterator<T | SwitchyardError> {
  let notice: SwitchyardError | null = null;
  let wake: (() => void) | null = null;
  let pending: Promise<IteratorResult<T>> | null = null;
  let ended = false;
  const stopListening = engine.redis.onChange((available) => {
    if (available) return;
    notice = redisOutageNotice();
    wake?.();
  });
  const finish = () => {
    ended = true;
    stopListening();
    wake?.();
  };
  const iterator: AsyncIterableIterator<T | SwitchyardError> = {
    [Symbol.asyncIterator]() {
      return iterator;
    },
    async next(): Promise<IteratorResult<T | SwitchyardError>> {
      // Each turn ends with a notice, a source item, or the end: a bounded wait on two promises.
      for (;;) {
        if (notice) {
          const value = notice;
          notice = null;
          return { done: false, value };
        }
        if (ended) return { done: true, value: undefined };
        pending ??= source.next();
        const noticed = new Promise<'notice'>((resolve) => {
          wake = () => resolve('notice');
        });
        const outcome = await Promise.race([pending, noticed]);
        wake = null;
        // A notice to send, or return() was called (the source's own return ends its pending next).
        if (outcome === 'notice') continue;
        pending = null;
        if (outcome.done) finish();
        return outcome;
      }
    },
    async return(): Promise<IteratorResult<T | SwitchyardError>> {
      finish();
      await source.return?.();
      return { done: true, value: undefined };
    },
  };
  return iterator;
}
