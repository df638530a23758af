import type { Commands, Keys, RedisClient } from '../redis/index.js';
import { defineCommands, execGrouped } from '../redis/index.js';
import type { Registry } from '../registry/index.js';
import { indexCall } from './commands.js';
import { type PageWalk, walkIndex } from './page.js';

export interface DeadLetterIndexOptions {
  client: RedisClient;
  keys: Keys;
  registry: Registry;
}

export interface QueueRef {
  topic: string;
  queue: string;
}

/** Jobs looked at per Lua call while syncing, so Redis is never blocked for long. */
const CHUNK = 1000;
/** The newest failed jobs a quick sync looks at: failures whose index write is still on its way. */
const QUICK = 256;

/** A prune's walk: every entry, counted only, dropping those of queues not listed. */
const PRUNE: Omit<PageWalk, 'topic' | 'set' | 'queues' | 'rank'> = {
  max: '+inf',
  min: '-inf',
  cursorId: '',
  cursorMember: '',
  want: 0,
  budget: CHUNK,
  search: '',
  countOnly: true,
  hydrate: false,
  dropUnlisted: true,
};

const queueId = (ref: QueueRef) => `${ref.topic}/${ref.queue}`;

/** What the index's Redis work runs on. */
interface IndexRedis {
  client: RedisClient;
  keys: Keys;
  commands: Commands;
}

/** Indexes these jobs of one queue, each only while still a dead letter; CHUNK jobs per call. */
async function write({ keys, commands }: IndexRedis, ref: QueueRef, ids: readonly string[]): Promise<void> {
  for (let start = 0; start < ids.length; start += CHUNK) {
    const call = indexCall(keys, ref.topic, ref.queue, ids.slice(start, start + CHUNK));
    await commands.run('dead-letter-index-n', call.keys, call.args);
  }
}

/** Indexes what the failed set holds and the index lacks, newest first; `limit` jobs at most. */
async function addMissing(redis: IndexRedis, ref: QueueRef, limit: number): Promise<void> {
  const failed = redis.keys.bull(ref.topic, ref.queue).failed;
  for (let rank = 0; rank < limit; rank += CHUNK) {
    const count = Math.min(CHUNK, limit - rank);
    // The ids first, then the index call with their keys, which checks each against the failed set again.
    const ids = await redis.client.zrevrange(failed, rank, rank + count - 1);
    await write(redis, ref, ids);
    if (ids.length < count) return;
  }
}

/**
 * Walks one index set and drops every entry whose job is no longer in its queue's failed set; `queues`
 * are the queues whose entries it may hold, and an entry of any other queue (a deleted one) is dropped.
 */
async function prune(
  { client, keys, commands }: IndexRedis,
  topic: string,
  set: string,
  queues: readonly string[],
): Promise<void> {
  const bound = (await client.zcard(set)) / CHUNK + 2;
  let rank = -1;
  for (let round = 0; round < bound; round++) {
    const { next } = await walkIndex(client, commands, keys, {
      ...PRUNE,
      topic,
      set,
      queues,
      rank,
    });
    if (next < 0) return;
    rank = next;
  }
}

/** Each queue's failed count and index count, in one round trip (one per topic on a Redis Cluster). */
async function counts(
  { client, keys }: IndexRedis,
  refs: readonly QueueRef[],
): Promise<{ failed: number; indexed: number }[]> {
  // One pipeline per topic on a Redis Cluster (a pipeline stays on one node).
  const results = await execGrouped(
    client,
    refs,
    (ref) => ref.topic,
    (pipeline, ref) => {
      pipeline.zcard(keys.bull(ref.topic, ref.queue).failed);
      pipeline.zcard(keys.deadLetters(ref.topic).queue(ref.queue));
    },
  );
  return refs.map((_, index) => {
    const [failedError, failed] = results[index * 2] ?? [null, 0];
    const [indexedError, indexed] = results[index * 2 + 1] ?? [null, 0];
    if (failedError || indexedError) throw failedError ?? indexedError;
    return { failed: Number(failed), indexed: Number(indexed) };
  });
}

/**
 * The dead-letter index: sorted sets per topic that answer filtered pages without scanning every
 * failed job. BullMQ's failed sets stay the truth; the index follows them.
 *
 * - A failure for good is indexed right after it happens (`record`, coalesced per tick).
 * - Anything that slipped through (a crash between BullMQ's move to failed and our write, a job
 *   retried or removed by another BullMQ tool) is repaired: `check` compares each queue's failed
 *   count with its index count before a query and syncs a queue that differs; `repairAll` syncs
 *   every queue on start and on a timer; and every read drops entries whose job left the failed set.
 */
export function createDeadLetterIndex(options: DeadLetterIndexOptions) {
  const { client, keys, registry } = options;
  const redis: IndexRedis = { client, keys, commands: defineCommands(client) };
  const batches = new Map<string, { ids: string[]; done: Promise<void> }>();
  const writes = new Set<Promise<unknown>>();
  const syncing = new Map<string, Promise<void>>();

  function track<T>(promise: Promise<T>): Promise<T> {
    writes.add(promise);
    const forget = () => writes.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /**
   * Indexes a job that just failed for good. Calls in the same tick for one queue share one Lua call;
   * the promise settles once the entry is written.
   */
  function record(topic: string, queue: string, jobId: string): Promise<void> {
    const ref = { topic, queue };
    const id = queueId(ref);
    let batch = batches.get(id);
    if (!batch) {
      const ids: string[] = [];
      const done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        batches.delete(id);
        return write(redis, ref, ids);
      });
      batch = { ids, done: track(done) };
      batches.set(id, batch);
    }
    batch.ids.push(jobId);
    return batch.done;
  }

  /** Brings one queue's index in step: the newest failures first, the whole queue only if still off. */
  function syncQueue(ref: QueueRef, full: boolean): Promise<void> {
    const id = queueId(ref);
    const running = syncing.get(id);
    if (running) return running;
    const sync = (async () => {
      if (!full) {
        await addMissing(redis, ref, QUICK);
        const [after] = await counts(redis, [ref]);
        if (after && after.failed === after.indexed) return;
      }
      const [size] = await counts(redis, [ref]);
      await addMissing(redis, ref, (size?.failed ?? 0) + CHUNK);
      await prune(redis, ref.topic, keys.deadLetters(ref.topic).queue(ref.queue), [ref.queue]);
    })().finally(() => syncing.delete(id));
    syncing.set(id, sync);
    return track(sync);
  }

  return {
    record,
    /** Syncs each queue whose failed count differs from its index count. One round trip when none does. */
    async check(refs: readonly QueueRef[]): Promise<void> {
      if (refs.length === 0) return;
      const found = await counts(redis, refs);
      await Promise.all(
        refs.map((ref, index) => {
          const count = found[index];
          return count && count.failed !== count.indexed ? syncQueue(ref, false) : undefined;
        }),
      );
    },
    /** Syncs every queue in full and drops stale entries of every topic (those of deleted queues too). */
    async repairAll(isStopped: () => boolean = () => false): Promise<void> {
      const table = await registry.table();
      for (const topic of table.topics()) {
        const queues = table.queues(topic.name).map((queue) => queue.name);
        for (const queue of queues) {
          if (isStopped()) return;
          await syncQueue({ topic: topic.name, queue }, true);
        }
        if (isStopped()) return;
        await track(prune(redis, topic.name, keys.deadLetters(topic.name).base, queues));
      }
    },
    /** Drops the index of a deleted queue (its BullMQ keys are gone, so every entry is stale). */
    dropQueue: (ref: QueueRef) =>
      track(prune(redis, ref.topic, keys.deadLetters(ref.topic).queue(ref.queue), [ref.queue])),
    /** Waits for every index write and sync in progress, e.g. before the connection closes. */
    async flush(): Promise<void> {
      while (writes.size > 0) await Promise.allSettled([...writes]);
    },
  };
}

export type DeadLetterIndex = ReturnType<typeof createDeadLetterIndex>;
