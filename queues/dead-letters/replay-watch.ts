import { Queue } from 'bullmq';
import type { MessageRecord, TopicRecord } from '../core/index.js';
import {
  chainEntry,
  readLinks,
  storedEntry,
  type TrailAction,
  type TrailLink,
  trailTtl,
} from '../publish/index.js';
import type { Keys, RedisClient } from '../redis/index.js';
import { defineCommands } from '../redis/index.js';

/** How often a replay is made again when its WATCH is broken by a concurrent change. */
export const WATCH_TRIES = 3;

/**
 * The connection dead-letter replays WATCH on: their trails (and, into another queue, the jobs) from
 * reading the chain heads to EXEC, so an entry never links to a head that moved. One WATCH at a time
 * there: another EXEC on the connection would silently drop ours. Opened on first use.
 */
export function createReplayWatch(client: RedisClient) {
  let exclusive: Promise<unknown> = Promise.resolve();
  let watcher: Promise<RedisClient> | null = null;

  function connection(): Promise<RedisClient> {
    watcher ??= (async () => {
      const duplicate = client.duplicate();
      duplicate.on('error', () => {});
      defineCommands(duplicate);
      await duplicate.connect();
      return duplicate;
    })();
    return watcher;
  }

  return {
    /**
     * Runs `work` alone on the watching connection, with a BullMQ handle of the queue on it (so
     * BullMQ's scripts are defined there), closed after.
     */
    run<T>(
      topicPrefix: string,
      queue: string,
      work: (connection: RedisClient, bull: Queue) => Promise<T>,
    ): Promise<T> {
      const run = async () => {
        const watching = await connection();
        // skipMetasUpdate: a handle made for a replay writes nothing by itself; by default BullMQ writes
        // the queue's meta hash as it opens, which made that key again for a queue deleted meanwhile.
        const bull = new Queue(queue, { connection: watching, prefix: topicPrefix, skipMetasUpdate: true });
        bull.on('error', () => {});
        try {
          await bull.client;
          return await work(watching, bull);
        } finally {
          await bull.close().catch(() => {});
        }
      };
      const result = exclusive.then(run, run);
      exclusive = result.catch(() => {});
      return result;
    },
    async close(): Promise<void> {
      const opened = await watcher?.catch(() => null);
      watcher = null;
      await opened?.quit().catch(() => {});
    },
  };
}

export type ReplayWatch = ReturnType<typeof createReplayWatch>;

/** What a replay says of one message for its trail entry. */
export interface TrailStepOf {
  action: TrailAction;
  /** The queue it goes to. */
  queue: string;
  /** The message as it will be after the replay (its sha256 is the entry's). */
  message: MessageRecord;
}

/** The trail side of a dead-letter replay: who asks, and how long the trails are kept. */
export interface ReplayTrail {
  by: string | null;
  retentionMs: number | undefined;
}

/**
 * The `trail-append-n` arguments for these steps, each linked to its trail's head as read now (on the
 * watching connection, after WATCH): the last stored entry, or, when none is stored yet, the PUBLISHED
 * entry derived from the message record. Answers the trail keys, then the expiry and per step the job
 * id, the stored head it must find ('' none) and the entry.
 */
export async function trailArgs(
  watching: RedisClient,
  keys: Keys,
  topic: TopicRecord,
  steps: readonly { jobId: string; step: TrailStepOf }[],
  trail: ReplayTrail,
): Promise<{ trailKeys: string[]; args: (string | number)[] }> {
  const trailKeys = steps.map(({ step }) => keys.trail(topic.name, step.message.id));
  const links = await readLinks(
    watching,
    trailKeys,
    steps.map(({ step }) => step.message),
  );
  const at = new Date().toISOString();
  const args: (string | number)[] = [trailTtl(trail.retentionMs, topic.history ?? null)];
  steps.forEach(({ jobId, step }, index) => {
    const link = links[index] as TrailLink;
    const entry = chainEntry(step.message.id, link.prevHash, {
      action: step.action,
      at,
      by: trail.by,
      queue: step.queue,
      sha256: step.message.sha256,
    });
    args.push(jobId, link.expectedHead, storedEntry(entry));
  });
  return { trailKeys, args };
}

/** Refuses a replay whose trail-append-n found a moved head despite the WATCH (a bug, never a race). */
export function assertLinked(appended: readonly number[]): void {
  if (appended.some((result) => Number(result) < 0)) {
    throw new Error('A trail moved under WATCH: its replay went on without its entry');
  }
}
