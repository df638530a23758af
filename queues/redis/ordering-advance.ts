import type { Commands } from './commands/index.js';
import { ORDERING_BASE_KEYS, READ_AGAIN } from './commands/ordering.js';
import type { RedisClient } from './connection.js';
import type { Keys } from './keys.js';

/**
 * Moving an ordering key on from a finished head, in two steps: read which ids head the key and
 * front its line, then `ordering-advance` with their job keys in KEYS, which checks again that
 * nothing moved since the read (queues/redis/commands/ordering.ts). A race only costs a re-read.
 */

/** How many entries of a line one read takes: a removed job among them is passed over. */
export const LINE_READ = 4;
/** The most keys one `ordering-advance` call advances (its KEYS grow with them). */
export const MAX_KEYS_PER_CALL = 100;
/** How many times a key is read again before it is left to the next sweep. */
const MAX_ROUNDS = 8;

/** An ordering key whose head was finished when read, with the front of its line. */
export interface FinishedHead {
  orderingKey: string;
  head: string;
  /** The line's first entries (`<id>|<due ms>`), as read. */
  front: string[];
}

/** For some ordering keys, the ids whose end was reported: a key is advanced only while one of them heads it. */
export type FinishedIds = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * Reads the heads of these ordering keys and answers those finished (the job gone, or in the failed
 * set), each with the front of its line; `only`: answers a key only while one of its ids there heads it.
 * With `only`, every id that may head a key is known before the read, so the heads, their jobs' state
 * and the lines' fronts come in one round trip (an ack waits for it); without, the heads come first.
 */
export async function readFinished(
  client: RedisClient,
  keys: Keys,
  topic: string,
  queue: string,
  orderingKeys: readonly string[],
  only?: FinishedIds,
): Promise<FinishedHead[]> {
  if (orderingKeys.length === 0) return [];
  const ordering = keys.ordering(topic, queue);
  const bull = keys.bull(topic, queue);
  const candidates = only
    ? orderingKeys.map((orderingKey) => ({ orderingKey, ids: [...(only.get(orderingKey) ?? [])] }))
    : (await client.hmget(ordering.heads, ...orderingKeys)).flatMap((head, index) =>
        head ? [{ orderingKey: orderingKeys[index] as string, ids: [head] }] : [],
      );
  if (candidates.length === 0) return [];
  const pipeline = client.pipeline();
  for (const { orderingKey, ids } of candidates) {
    pipeline.hget(ordering.heads, orderingKey);
    pipeline.lrange(ordering.line(orderingKey), 0, LINE_READ - 1);
    for (const id of ids) {
      pipeline.exists(bull.job(id));
      pipeline.zscore(bull.failed, id);
    }
  }
  const answers = ((await pipeline.exec()) ?? []).map(([error, value]) => {
    if (error) throw error;
    return value;
  });
  const finished: FinishedHead[] = [];
  let at = 0;
  for (const { orderingKey, ids } of candidates) {
    const head = answers[at++] as string | null;
    const front = answers[at++] as string[];
    for (const id of ids) {
      const [exists, failed] = [answers[at++], answers[at++]];
      if (id === head && (exists === 0 || failed !== null)) finished.push({ orderingKey, head, front });
    }
  }
  return finished;
}

/** KEYS and ARGV of one `ordering-advance` call over finished heads of one queue. */
export function advanceCall(
  keys: Keys,
  topic: string,
  queue: string,
  heads: readonly FinishedHead[],
): { keys: string[]; args: string[] } {
  const ordering = keys.ordering(topic, queue);
  const bull = keys.bull(topic, queue);
  const callKeys = orderingBaseKeys(keys, topic, queue);
  const at = (key: string) => String(callKeys.push(key));
  const args: string[] = [String(Date.now())];
  for (const { orderingKey, head, front } of heads) {
    args.push(at(ordering.line(orderingKey)), orderingKey, head, at(bull.job(head)), String(front.length));
    for (const entry of front) args.push(entry, at(bull.job(entry.slice(0, entry.indexOf('|')))));
  }
  return { keys: callKeys, args };
}

/** The keys both ordering commands take first, in their Lua's order. */
export function orderingBaseKeys(keys: Keys, topic: string, queue: string): string[] {
  const ordering = keys.ordering(topic, queue);
  const bull = keys.bull(topic, queue);
  const base = [
    ordering.pending,
    ordering.heads,
    bull.delayed,
    bull.wait,
    bull.paused,
    bull.meta,
    bull.prioritized,
    bull.active,
    bull.pc,
    bull.events,
    bull.marker,
    bull.failed,
  ];
  if (base.length !== ORDERING_BASE_KEYS) throw new Error('ordering: keys out of step with its Lua');
  return base;
}

/**
 * Advances every finished head of these ordering keys (`only`: a key while one of its ids there heads
 * it), reading again the keys whose head or line moved under the call. Answers how many keys advanced.
 */
export async function advanceKeys(
  client: RedisClient,
  commands: Commands,
  keys: Keys,
  target: { topic: string; queue: string; orderingKeys: readonly string[]; only?: FinishedIds },
): Promise<number> {
  const { topic, queue } = target;
  let pending = target.orderingKeys;
  let only = target.only;
  let advanced = 0;
  for (let round = 0; round < MAX_ROUNDS && pending.length > 0; round++) {
    const finished = await readFinished(client, keys, topic, queue, pending, only);
    const again: string[] = [];
    for (let at = 0; at < finished.length; at += MAX_KEYS_PER_CALL) {
      const chunk = finished.slice(at, at + MAX_KEYS_PER_CALL);
      const call = advanceCall(keys, topic, queue, chunk);
      const results = await commands.run<number[]>('ordering-advance-n', call.keys, call.args);
      results.forEach((result, index) => {
        if (result === READ_AGAIN) again.push((chunk[index] as FinishedHead).orderingKey);
        else advanced += result;
      });
    }
    pending = again;
    // After a first move, whichever head is read next is the one to advance.
    only = undefined;
  }
  return advanced;
}
