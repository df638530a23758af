import type { MessageRecord, TopicRecord } from '../core/index.js';
import { cursorAfter, type History, type HistoryStart } from '../history/index.js';
import type { LiveBuffer } from './buffer.js';

/** How many history entries one catch-up read takes. */
export const CATCH_UP_PAGE = 500;

/** A message of a history-first stream, with how many this subscriber lost just before it. */
type Tailed = MessageRecord & { droppedBefore: number };

/**
 * A topic's history from `start`, then its live tail, with no gap and no duplicate at the seam.
 *
 * `live` must already be subscribed when this starts (it is the caller's buffer of the topic's live
 * messages): every message stored after the subscription began is then in `live`, and every one
 * stored before it is in the history, so reading the history until it has nothing more and then
 * taking `live` leaves no gap. Live messages carry their stream id (`cursor`, added by publish-commit
 * in the publish's own call), and one at or before the last cursor sent is a duplicate and skipped.
 * When `live` dropped messages because the reader fell behind, the history is read again from the last
 * cursor sent, so what the history still holds is not lost.
 *
 * Written by hand rather than as an async generator, for the reason mapLive gives: `return()` must
 * reach the live buffer at once.
 */
export function historyThenLive(options: {
  history: History;
  topic: TopicRecord;
  start: HistoryStart;
  live: LiveBuffer<MessageRecord>;
  matches: (message: MessageRecord) => boolean;
  /** The first catch-up read, made by the caller (so that a bad start fails the subscription itself). */
  firstPage: MessageRecord[];
}): AsyncIterableIterator<Tailed> {
  const { history, topic, live, matches } = options;
  let last: string | null = options.start.after ?? null;
  let pending: MessageRecord[] = [];
  let catchingUp = true;
  let done = false;

  /** Takes one read of history after `last` (or from the start); false when it had nothing more. */
  function take(page: MessageRecord[]): boolean {
    const lastOfPage = page.at(-1)?.cursor;
    if (lastOfPage === undefined) return false;
    last = lastOfPage;
    pending = page.filter(matches);
    return page.length === CATCH_UP_PAGE;
  }
  // A short page means the history held nothing more when it was read: what came since is in `live`.
  catchingUp = take(options.firstPage);

  const iterator: AsyncIterableIterator<Tailed> = {
    async next(): Promise<IteratorResult<Tailed>> {
      for (;;) {
        if (done) return { value: undefined, done: true };
        const held = pending.shift();
        if (held) return { value: { ...held, droppedBefore: 0 }, done: false };
        if (catchingUp) {
          const start = last === null ? options.start : { after: last };
          catchingUp = take(await history.read(topic, start, CATCH_UP_PAGE));
          continue;
        }
        const result = await live.next();
        if (result.done) return { value: undefined, done: true };
        const { item, droppedBefore } = result.value;
        if (item.cursor !== undefined && last !== null && !cursorAfter(item.cursor, last)) continue;
        if (droppedBefore > 0) {
          // What was dropped is still in the history (unless trimmed since): read it from there.
          catchingUp = true;
          continue;
        }
        if (item.cursor !== undefined) last = item.cursor;
        if (matches(item)) return { value: { ...item, droppedBefore }, done: false };
      }
    },
    async return(): Promise<IteratorResult<Tailed>> {
      done = true;
      pending = [];
      await live.return();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown): Promise<IteratorResult<Tailed>> {
      await iterator.return?.();
      throw error instanceof Error ? error : new Error(String(error));
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
