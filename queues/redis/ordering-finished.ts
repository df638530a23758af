import type { FinishedIds } from './ordering-advance.js';

/** One queue's reports of finished heads, gathered in one turn of the event loop. */
interface Gathered {
  topic: string;
  queue: string;
  ids: Map<string, Set<string>>;
  waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }>;
}

/**
 * Gathers the ends of deliveries reported in one turn of the event loop, per queue, into one advance:
 * webhook deliveries of one queue finishing together, and dead letters, then cost one read and one
 * `ordering-advance` call for their keys instead of one of each per delivery. A consumer's acks do
 * not come here: they read their keys' fronts beside BullMQ's completion and advance through
 * `ordering.finishing`, gathered per turn there (ordering-finishing.ts). The callers of one turn
 * share the outcome: each resolves once its key was advanced, or rejects with the same error.
 */
export function gatherFinished(
  advance: (topic: string, queue: string, ids: FinishedIds) => Promise<unknown>,
): (topic: string, queue: string, orderingKey: string, jobId: string) => Promise<void> {
  const gathering = new Map<string, Gathered>();
  const flush = async (id: string, batch: Gathered) => {
    gathering.delete(id);
    try {
      await advance(batch.topic, batch.queue, batch.ids);
      for (const waiter of batch.waiters) waiter.resolve();
    } catch (error) {
      for (const waiter of batch.waiters) waiter.reject(error);
    }
  };
  return (topic, queue, orderingKey, jobId) =>
    new Promise<void>((resolve, reject) => {
      const id = `${topic}\u0000${queue}`;
      let batch = gathering.get(id);
      if (!batch) {
        const started: Gathered = { topic, queue, ids: new Map(), waiters: [] };
        gathering.set(id, started);
        // After the I/O callbacks of this turn: the other acks of one request answer in the same read.
        setImmediate(() => void flush(id, started));
        batch = started;
      }
      const ids = batch.ids.get(orderingKey) ?? new Set<string>();
      batch.ids.set(orderingKey, ids.add(jobId));
      batch.waiters.push({ resolve, reject });
    });
}
