import type { Commands } from './commands/index.js';
import { READ_AGAIN } from './commands/ordering.js';
import type { RedisClient } from './connection.js';
import type { Keys } from './keys.js';
import { advanceKeys, orderingBaseKeys } from './ordering-advance.js';
import { gatherFinished } from './ordering-finished.js';
import { createFinishing } from './ordering-finishing.js';

export { PARK_MS } from './commands/ordering.js';

/** One message of an ordering key in one queue. */
export interface OrderedJob {
  topic: string;
  queue: string;
  orderingKey: string;
  jobId: string;
}

/** The most entries one `ordering-enqueue` call carries (its KEYS grow with them). */
const MAX_ENTRIES_PER_CALL = 250;

/** Groups jobs by queue, keeping their order inside each queue. */
function byQueue(jobs: readonly OrderedJob[]): OrderedJob[][] {
  const groups = new Map<string, OrderedJob[]>();
  for (const job of jobs) {
    const id = `${job.topic}\u0000${job.queue}`;
    let list = groups.get(id);
    if (!list) {
      list = [];
      groups.set(id, list);
    }
    list.push(job);
  }
  return [...groups.values()];
}

/** KEYS and ARGV of one `ordering-enqueue` over jobs of one queue: each line and job key in KEYS once. */
export function enqueueCall(keys: Keys, chunk: readonly OrderedJob[]): { keys: string[]; args: string[] } {
  const { topic, queue } = chunk[0] as OrderedJob;
  const ordering = keys.ordering(topic, queue);
  const bull = keys.bull(topic, queue);
  const callKeys = orderingBaseKeys(keys, topic, queue);
  const positions = new Map<string, string>();
  const at = (key: string) => {
    let position = positions.get(key);
    if (position === undefined) {
      position = String(callKeys.push(key));
      positions.set(key, position);
    }
    return position;
  };
  const args: string[] = [String(Date.now())];
  for (const job of chunk) {
    args.push(at(ordering.line(job.orderingKey)), job.orderingKey, job.jobId, at(bull.job(job.jobId)));
  }
  return { keys: callKeys, args };
}

/** Runs `ordering-enqueue` once per queue and chunk of entries. */
async function enqueue(commands: Commands, keys: Keys, jobs: readonly OrderedJob[]): Promise<number> {
  let total = 0;
  for (const list of byQueue(jobs)) {
    for (let at = 0; at < list.length; at += MAX_ENTRIES_PER_CALL) {
      const call = enqueueCall(keys, list.slice(at, at + MAX_ENTRIES_PER_CALL));
      total += Number(await commands.run('ordering-enqueue-n', call.keys, call.args));
    }
  }
  return total;
}

/** The ordering key of a stored job, or null (no job, or a message without one). */
async function keyOf(client: RedisClient, keys: Keys, topic: string, queue: string, jobId: string) {
  const data = await client.hget(keys.bull(topic, queue).job(jobId), 'data');
  if (data === null) return null;
  const message = JSON.parse(data) as { orderingKey?: string | null };
  return typeof message.orderingKey === 'string' ? message.orderingKey : null;
}

/**
 * The pending ids whose publish stored them more than `graceMs` ago, in their publishes' order as near
 * as the job timestamps tell it; an id whose job is gone is dropped from `pending` on the way.
 */
async function stalePending(
  client: RedisClient,
  keys: Keys,
  topic: string,
  queue: string,
  pending: readonly string[],
  graceMs: number,
): Promise<OrderedJob[]> {
  const stale: (OrderedJob & { at: number })[] = [];
  const cutoff = Date.now() - graceMs;
  for (const jobId of pending) {
    const [data, timestamp] = await client.hmget(keys.bull(topic, queue).job(jobId), 'data', 'timestamp');
    if (data === null || data === undefined) {
      await client.hdel(keys.ordering(topic, queue).pending, jobId);
      continue;
    }
    const at = Number(timestamp);
    if (at > cutoff) continue;
    const message = JSON.parse(data) as { orderingKey?: string | null };
    if (typeof message.orderingKey === 'string')
      stale.push({ topic, queue, orderingKey: message.orderingKey, jobId, at });
  }
  return stale.sort((a, b) => a.at - b.at);
}

/**
 * Ordering keys (docs/PATTERNS.md#ordering-keys): each key's messages of a queue wait in a line,
 * and only the key's head is deliverable. The publisher parks the messages and records them as
 * pending in its own call; `enqueue` lines them up; `finished` advances a key once its head is
 * delivered or dead-lettered; `sweep` repairs what a gateway killed between two steps left behind.
 */
export function createOrdering(options: { client: RedisClient; commands: Commands; keys: Keys }) {
  const { client, commands, keys } = options;
  const advanceFinished = gatherFinished((topic, queue, ids) =>
    advanceKeys(client, commands, keys, { topic, queue, orderingKeys: [...ids.keys()], only: ids }),
  );
  const finishingHeads = createFinishing(client, commands, keys);

  return {
    /** Forgets a deleted queue's ordering keys: its heads, its lines (a line exists only beside a head) and its pending ids. */
    async drop(topic: string, queue: string): Promise<void> {
      const ordering = keys.ordering(topic, queue);
      const heads = await client.hkeys(ordering.heads);
      for (const orderingKey of heads) await client.del(ordering.line(orderingKey));
      await client.del(ordering.heads, ordering.pending);
    },
    /** Lines up messages the publisher stored as pending, in the order given. Idempotent. */
    enqueue: (jobs: readonly OrderedJob[]): Promise<number> =>
      jobs.length === 0 ? Promise.resolve(0) : enqueue(commands, keys, jobs),

    /** After a message of a key was delivered or dead-lettered: the next of its key becomes deliverable. */
    async finished(topic: string, queue: string, jobId: string, orderingKey?: string | null): Promise<void> {
      const key = orderingKey === undefined ? await keyOf(client, keys, topic, queue, jobId) : orderingKey;
      if (key === null) return;
      await advanceFinished(topic, queue, key, jobId);
    },

    /**
     * As `finished`, for a head this process is about to finish (a consumer's ack): the key's head and
     * line front are read now, beside BullMQ's completion, and the function answered advances with them
     * once the job is completed. An ack then waits for one script call after its completion instead of
     * a read and a script call; should the line have moved meanwhile, it reads again as `finished` does.
     * The reads, and then the advances, of the acks finishing in one turn (one request's) go together.
     */
    finishing(topic: string, queue: string, jobId: string, orderingKey: string): () => Promise<void> {
      const key = { topic, queue, orderingKey };
      const read = finishingHeads.readFront(key).catch(() => null);
      return async () => {
        const front = await read;
        if (front?.head === jobId) {
          const result = await finishingHeads.advance(key, { orderingKey, head: jobId, front: front.front });
          // Advanced, or left alone: another advanced the key first, or the job is not finished.
          if (result !== READ_AGAIN) return;
          // The script may have left a removed entry of the line as the (finished) head: as in
          // advanceKeys' later rounds, whichever head is read next is the one to advance.
          await advanceKeys(client, commands, keys, { topic, queue, orderingKeys: [orderingKey] });
          return;
        }
        await advanceFinished(topic, queue, orderingKey, jobId);
      };
    },

    /**
     * Repairs one queue after a gateway died between two steps: lines up messages pending for longer
     * than `graceMs` (their publish never reached `enqueue`), and advances every key whose head is
     * finished (its delivery ended but `finished` never ran). Answers how many it repaired.
     */
    async sweep(topic: string, queue: string, graceMs: number): Promise<number> {
      const ordering = keys.ordering(topic, queue);
      const [pending, heads] = await Promise.all([
        client.hkeys(ordering.pending),
        client.hkeys(ordering.heads),
      ]);
      let repaired = 0;
      if (pending.length > 0) {
        const stale = await stalePending(client, keys, topic, queue, pending, graceMs);
        repaired += await enqueue(commands, keys, stale);
      }
      if (heads.length > 0)
        repaired += await advanceKeys(client, commands, keys, { topic, queue, orderingKeys: heads });
      return repaired;
    },
  };
}

export type Ordering = ReturnType<typeof createOrdering>;
