/**
 * The bounded buffer between a live source (Redis pub/sub, a timer, a consumer pump) and one
 * subscriber that reads at its own pace. A subscriber that falls behind loses the oldest items, never
 * the process's memory: the buffer holds at most `maxItems` items and `maxBytes` of their size.
 */

export interface LiveBufferOptions<T> {
  /**
   * Most items held for a reader that has not caught up; one more drops the oldest.
   * @default 1000
   */
  maxItems?: number;
  /**
   * Most bytes held (as `sizeOf` counts them); one more item drops the oldest until it fits. A single
   * item larger than this is still held, alone.
   * @default Infinity
   */
  maxBytes?: number;
  /**
   * The size of an item in bytes, for `maxBytes`.
   * @default () => 0
   */
  sizeOf?: (item: T) => number;
  /** Called once when the reader stops (return(), end() or an error), to release the source. */
  onClose?: () => void;
  /** Called for each item dropped because the reader fell behind, for counting what was lost. */
  onDrop?: () => void;
}

/** One item as the reader gets it, with how many items were dropped just before it. */
export interface Buffered<T> {
  item: T;
  droppedBefore: number;
}

export interface LiveBuffer<T> extends AsyncIterableIterator<Buffered<T>> {
  /** Adds an item; drops the oldest ones when the buffer is full. Ignored once closed. */
  push(item: T): void;
  /** Takes the next item at once, or null when none is held: for readers that do not await. */
  shift(): Buffered<T> | null;
  /** Ends the stream after the items already held (or at once with `error`, which the reader gets). */
  end(error?: Error): void;
  /** Items held now. */
  readonly size: number;
  /** Items dropped so far, over the buffer's life. */
  readonly dropped: number;
  readonly closed: boolean;
  /** Stops reading: the buffer empties and `onClose` runs; a pending next() answers done. */
  return(): Promise<IteratorResult<Buffered<T>>>;
}

interface Slot<T> {
  item: T;
  bytes: number;
  droppedBefore: number;
}

export function createLiveBuffer<T>(options: LiveBufferOptions<T> = {}): LiveBuffer<T> {
  const maxItems = options.maxItems ?? 1000;
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const sizeOf = options.sizeOf ?? (() => 0);
  // A ring would save the occasional shift(); with maxItems in the low thousands shift() is cheap
  // and V8 keeps small arrays packed.
  const slots: Slot<T>[] = [];
  let bytes = 0;
  let droppedTotal = 0;
  /** Drops not yet reported: they go to the next item handed to the reader. */
  let pendingDrops = 0;
  let closed = false;
  let ending = false;
  let failure: Error | null = null;
  let waiter: ((result: IteratorResult<Buffered<T>>) => void) | null = null;
  let rejecter: ((error: Error) => void) | null = null;

  const close = () => {
    if (closed) return;
    closed = true;
    slots.length = 0;
    bytes = 0;
    options.onClose?.();
  };

  const dropOldest = () => {
    const oldest = slots.shift();
    if (!oldest) return;
    bytes -= oldest.bytes;
    // What the dropped item would have reported is carried over too, so nothing is lost from the count.
    pendingDrops += oldest.droppedBefore + 1;
    droppedTotal++;
    options.onDrop?.();
  };

  const take = (): Buffered<T> | null => {
    const slot = slots.shift();
    if (!slot) return null;
    bytes -= slot.bytes;
    const droppedBefore = pendingDrops + slot.droppedBefore;
    pendingDrops = 0;
    return { item: slot.item, droppedBefore };
  };

  const settleWaiter = () => {
    if (!waiter) return;
    const resolve = waiter;
    const reject = rejecter;
    if (failure && slots.length === 0) {
      waiter = null;
      rejecter = null;
      const error = failure;
      close();
      reject?.(error);
      return;
    }
    const next = take();
    if (next) {
      waiter = null;
      rejecter = null;
      resolve({ value: next, done: false });
    } else if (ending || closed) {
      waiter = null;
      rejecter = null;
      close();
      resolve({ value: undefined, done: true });
    }
  };

  const buffer: LiveBuffer<T> = {
    push(item: T): void {
      if (closed || ending) return;
      const size = sizeOf(item);
      if (waiter && slots.length === 0) {
        const resolve = waiter;
        waiter = null;
        rejecter = null;
        const droppedBefore = pendingDrops;
        pendingDrops = 0;
        resolve({ value: { item, droppedBefore }, done: false });
        return;
      }
      while (slots.length > 0 && (slots.length >= maxItems || bytes + size > maxBytes)) dropOldest();
      slots.push({ item, bytes: size, droppedBefore: 0 });
      bytes += size;
    },
    end(error?: Error): void {
      if (closed || ending) return;
      ending = true;
      if (error) {
        failure = error;
        // An error cuts the stream short: what is still held would only delay the reader's news.
        slots.length = 0;
        bytes = 0;
      }
      settleWaiter();
    },
    shift: () => take(),
    get size() {
      return slots.length;
    },
    get dropped() {
      return droppedTotal;
    },
    get closed() {
      return closed;
    },
    next(): Promise<IteratorResult<Buffered<T>>> {
      if (closed) return Promise.resolve({ value: undefined, done: true });
      if (failure) {
        const error = failure;
        close();
        return Promise.reject(error);
      }
      const next = take();
      if (next) return Promise.resolve({ value: next, done: false });
      if (ending) {
        close();
        return Promise.resolve({ value: undefined, done: true });
      }
      if (waiter) return Promise.reject(new Error('LiveBuffer: next() called while a next() is pending'));
      return new Promise((resolve, reject) => {
        waiter = resolve;
        rejecter = reject;
      });
    },
    return(): Promise<IteratorResult<Buffered<T>>> {
      const resolve = waiter;
      waiter = null;
      rejecter = null;
      close();
      resolve?.({ value: undefined, done: true });
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error?: unknown): Promise<IteratorResult<Buffered<T>>> {
      close();
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    },
    [Symbol.asyncIterator]() {
      return buffer;
    },
  };
  return buffer;
}
