import type { Buffered, LiveBuffer } from './buffer.js';

/**
 * A live buffer as an AsyncIterableIterator of mapped values. Written by hand, not as an async
 * generator: a generator suspended in `await buffer.next()` queues a `return()` until the next item
 * arrives, so a quiet stream would never release its subscription when the client leaves. Here
 * `return()` reaches the buffer at once.
 */
export function mapLive<T, U>(
  buffer: LiveBuffer<T>,
  map: (buffered: Buffered<T>) => U,
): AsyncIterableIterator<U> {
  const iterator: AsyncIterableIterator<U> = {
    async next(): Promise<IteratorResult<U>> {
      const result = await buffer.next();
      return result.done ? { value: undefined, done: true } : { value: map(result.value), done: false };
    },
    async return(): Promise<IteratorResult<U>> {
      await buffer.return();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown): Promise<IteratorResult<U>> {
      await buffer.return();
      throw error instanceof Error ? error : new Error(String(error));
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
