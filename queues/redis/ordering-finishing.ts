import type { Commands } from './commands/index.js';
import type { RedisClient } from './connection.js';
import { corked } from './corked.js';
import type { Keys } from './keys.js';
import { advanceCall, type FinishedHead, LINE_READ, MAX_KEYS_PER_CALL } from './ordering-advance.js';

/**
 * Calls made in one turn, until its microtasks are done, per group, answered by one `flush` of them
 * all (which answers each item's outcome, in order). The acks of one request (engine.ackMany) finish
 * their jobs in one turn: their reads of the keys' fronts, and then their advances, go to Redis as one
 * call each instead of one per ack. Every caller of a flush that fails rejects with its error.
 */
function gatherTurn<I, O>(flush: (items: I[]) => Promise<O[]>): (group: string, item: I) => Promise<O> {
  const gathering = new Map<string, { items: I[]; waiters: PromiseWithResolversLike<O>[] }>();
  const run = async (group: string) => {
    const batch = gathering.get(group);
    gathering.delete(group);
    if (!batch) return;
    try {
      const outcomes = await flush(batch.items);
      batch.waiters.forEach((waiter, index) => {
        waiter.resolve(outcomes[index] as O);
      });
    } catch (error) {
      for (const waiter of batch.waiters) waiter.reject(error);
    }
  };
  return (group, item) =>
    new Promise<O>((resolve, reject) => {
      let batch = gathering.get(group);
      if (!batch) {
        batch = { items: [], waiters: [] };
        gathering.set(group, batch);
        // A tick queued from a microtask runs once the microtask queue is empty: after every call
        // that this turn's settled replies lead to.
        process.nextTick(() => void run(group));
      }
      batch.items.push(item);
      batch.waiters.push({ resolve, reject });
    });
}

interface PromiseWithResolversLike<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

/** One ordering key of one queue: a key finishing, whose head and line front are read. */
interface KeyOf {
  topic: string;
  queue: string;
  orderingKey: string;
}

/**
 * `ordering.finishing`'s two steps, each gathered per queue and turn: the read of each key's head and
 * line front (one pipeline), and `ordering-advance` of the heads found finished (one call per 100).
 */
export function createFinishing(client: RedisClient, commands: Commands, keys: Keys) {
  // Plain commands corked into one write rather than a pipeline: ioredis builds each pipeline with a
  // method per defined script, which cost more than the reads themselves (a profile of scenario 10).
  const readFronts = gatherTurn<KeyOf, { head: string | null; front: string[] }>((items) =>
    corked(client, () =>
      Promise.all(
        items.map(async ({ topic, queue, orderingKey }) => {
          const ordering = keys.ordering(topic, queue);
          const [head, front] = await Promise.all([
            client.hget(ordering.heads, orderingKey),
            client.lrange(ordering.line(orderingKey), 0, LINE_READ - 1),
          ]);
          return { head, front };
        }),
      ),
    ),
  );
  const advanceHeads = gatherTurn<KeyOf & { head: FinishedHead }, number>(async (items) => {
    const results: number[] = [];
    for (let at = 0; at < items.length; at += MAX_KEYS_PER_CALL) {
      const chunk = items.slice(at, at + MAX_KEYS_PER_CALL);
      const { topic, queue } = chunk[0] as KeyOf;
      const call = advanceCall(
        keys,
        topic,
        queue,
        chunk.map((item) => item.head),
      );
      results.push(...(await commands.run<number[]>('ordering-advance-n', call.keys, call.args)));
    }
    return results;
  });
  const group = ({ topic, queue }: KeyOf) => `${topic}\u0000${queue}`;
  return {
    /** The key's head and the first entries of its line, read with the other keys of this turn. */
    readFront: (key: KeyOf) => readFronts(group(key), key),
    /** `ordering-advance` of this finished head with the others of this turn: 1, 0 or READ_AGAIN. */
    advance: (key: KeyOf, head: FinishedHead) => advanceHeads(group(key), { ...key, head }),
  };
}
