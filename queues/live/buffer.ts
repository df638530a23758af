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
  /** Bytes held now (as `sizeOf` counts them): never above `maxBytes`, but for one oversized item. */
  readonly bytes: number;
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

/** A buffer's state, which the functions below share with its methods. */
interface State<T> {
  options: LiveBufferOptions<T>;
  // A ring would save the occasional shift(); with maxItems in the low thousands shift() is cheap
  // and V8 keeps small arrays packed.
  slots: Slot<T>[];
  bytes: number;
  droppedTotal: number;
  /** Drops not yet reported: they go to the next item handed to the reader. */
  pendingDrops: number;
  closed: boolean;
  ending: boolean;
  failure: Error | null;
  waiter: ((result: IteratorResult<Buffered<T>>) => void) | null;
  rejecter: ((error: Error) => void) | null;
}

function close<T>(state: State<T>): void {
  if (state.closed) return;
  state.closed = true;
  state.slots.length = 0;
  state.bytes = 0;
  state.options.onClose?.();
}

function dropOldest<T>(state: State<T>): void {
  const oldest = state.slots.shift();
  if (!oldest) return;
  state.bytes -= oldest.bytes;
  // What the dropped item would have reported is carried over too, so nothing is lost from the count.
  state.pendingDrops += oldest.droppedBefore + 1;
  state.droppedTotal++;
  state.options.onDrop?.();
}

function take<T>(state: State<T>): Buffered<T> | null {
  const slot = state.slots.shift();
  if (!slot) return null;
  state.bytes -= slot.bytes;
  const droppedBefore = state.pendingDrops + slot.droppedBefore;
  state.pendingDrops = 0;
  return { item: slot.item, droppedBefore };
}

/** Takes the pending next()'s callbacks, leaving none pending. */
function takeWaiter<T>(state: State<T>) {
  const { waiter, rejecter } = state;
  state.waiter = null;
  state.rejecter = null;
  return { resolve: waiter, reject: rejecter };
}

/** Answers a pending next() once there is something to answer: an item, the end, or the error. */
function settleWaiter<T>(state: State<T>): void {
  if (!state.waiter) return;
  if (state.failure && state.slots.length === 0) {
    const { reject } = takeWaiter(state);
    const error = state.failure;
    close(state);
    reject?.(error);
    return;
  }
  const next = take(state);
  if (next) {
    takeWaiter(state).resolve?.({ value: next, done: false });
  } else if (state.ending || state.closed) {
    const { resolve } = takeWaiter(state);
    close(state);
    resolve?.({ value: undefined, done: true });
  }
}

function push<T>(state: State<T>, item: T): void {
  if (state.closed || state.ending) return;
  const size = (state.options.sizeOf ?? (() => 0))(item);
  if (state.waiter && state.slots.length === 0) {
    const { resolve } = takeWaiter(state);
    const droppedBefore = state.pendingDrops;
    state.pendingDrops = 0;
    resolve?.({ value: { item, droppedBefore }, done: false });
    return;
  }
  const maxItems = state.options.maxItems ?? 1000;
  const maxBytes = state.options.maxBytes ?? Number.POSITIVE_INFINITY;
  while (state.slots.length > 0 && (state.slots.length >= maxItems || state.bytes + size > maxBytes)) {
    dropOldest(state);
  }
  state.slots.push({ item, bytes: size, droppedBefore: 0 });
  state.bytes += size;
}

function next<T>(state: State<T>): Promise<IteratorResult<Buffered<T>>> {
  if (state.closed) return Promise.resolve({ value: undefined, done: true });
  if (state.failure) {
    const error = state.failure;
    close(state);
    return Promise.reject(error);
  }
  const item = take(state);
  if (item) return Promise.resolve({ value: item, done: false });
  if (state.ending) {
    close(state);
    return Promise.resolve({ value: undefined, done: true });
  }
  if (state.waiter) return Promise.reject(new Error('LiveBuffer: next() called while a next() is pending'));
  return new Promise((resolve, reject) => {
    state.waiter = resolve;
    state.rejecter = reject;
  });
}

export function createLiveBuffer<T>(options: LiveBufferOptions<T> = {}): LiveBuffer<T> {
  const state: State<T> = {
    options,
    slots: [],
    bytes: 0,
    droppedTotal: 0,
    pendingDrops: 0,
    closed: false,
    ending: false,
    failure: null,
    waiter: null,
    rejecter: null,
  };
  const buffer: LiveBuffer<T> = {
    push: (item: T) => push(state, item),
    end(error?: Error): void {
      if (state.closed || state.ending) return;
      state.ending = true;
      if (error) {
        state.failure = error;
        // An error cuts the stream short: what is still held would only delay the reader's news.
        state.slots.length = 0;
        state.bytes = 0;
      }
      settleWaiter(state);
    },
    shift: () => take(state),
    get size() {
      return state.slots.length;
    },
    get bytes() {
      return state.bytes;
    },
    get dropped() {
      return state.droppedTotal;
    },
    get closed() {
      return state.closed;
    },
    next: () => next(state),
    return(): Promise<IteratorResult<Buffered<T>>> {
      const { resolve } = takeWaiter(state);
      close(state);
      resolve?.({ value: undefined, done: true });
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error?: unknown): Promise<IteratorResult<Buffered<T>>> {
      close(state);
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    },
    [Symbol.asyncIterator]() {
      return buffer;
    },
  };
  return buffer;
}
