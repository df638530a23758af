import type { Queue } from 'bullmq';
import type { Commands, Keys, RedisClient } from '../redis/index.js';

export interface QueueStats {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  deadLettered: number;
  paused: boolean;
  /**
   * How long the oldest message that could be delivered now has waited, in ms (the queue's lag);
   * null when none waits. Counted from when it became deliverable: a delayed message from the end of
   * its delay, not from its publish.
   */
  oldestWaitingAgeMs: number | null;
  /**
   * How many deliveries this instance's worker for the queue may run at once now: the fixed
   * concurrency, or where the autoscaler stands within the queue's range. Null when this instance
   * runs no worker for it (a CONSUMER queue, or a gateway started without workers).
   */
  concurrency: number | null;
}

export interface TopicStats {
  published: number;
  unrouted: number;
  deadLettered: number;
}

/**
 * Queue depths straight from BullMQ. A job waiting for its retry sits in `delayed`, so `failed`
 * holds only jobs that failed for good: our dead letters.
 */
export async function queueStats(
  queue: Queue,
  commands: Commands,
  concurrency: number | null,
): Promise<QueueStats> {
  const [counts, completed, paused, oldestSince] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'paused', 'waiting-children'),
    queue.getMetrics('completed', 0, 0),
    queue.isPaused(),
    oldestWaitingSince(queue, commands),
  ]);
  const count = (state: string) => counts[state] ?? 0;
  return {
    waiting: count('waiting') + count('prioritized') + count('paused'),
    active: count('active'),
    delayed: count('delayed'),
    completed: completed.meta.count,
    failed: count('failed'),
    deadLettered: count('failed'),
    paused,
    oldestWaitingAgeMs: oldestSince === null ? null : Math.max(0, Date.now() - oldestSince),
    concurrency,
  };
}

/**
 * What the autoscaler samples: the messages deliverable now (not delayed ones, nor those of a paused
 * queue) and how long the oldest of them has waited, in two reads.
 */
export async function queueBacklog(
  queue: Queue,
  commands: Commands,
): Promise<{ waiting: number; lagMs: number | null }> {
  const [counts, oldestSince] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized'),
    oldestWaitingSince(queue, commands),
  ]);
  return {
    waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
    lagMs: oldestSince === null ? null : Math.max(0, Date.now() - oldestSince),
  };
}

/** When the oldest deliverable job of `queue` became deliverable (ms since the epoch); null when none waits. */
export async function oldestWaitingSince(queue: Queue, commands: Commands): Promise<number | null> {
  const { keys } = queue;
  const jobPrefix = keys[''];
  if (!keys.wait || !keys.paused || !keys.prioritized || jobPrefix === undefined) {
    throw new Error(`BullMQ queue ${queue.name} has no wait, paused or prioritized key`);
  }
  const since = await commands.run<number>(
    'oldest-waiting-3',
    [keys.wait, keys.paused, keys.prioritized],
    [jobPrefix],
  );
  return since < 0 ? null : since;
}

export async function topicCounters(
  client: RedisClient,
  keys: Keys,
  topic: string,
): Promise<Omit<TopicStats, 'deadLettered'>> {
  const [published, unrouted] = await client.hmget(keys.topicStats(topic), 'published', 'unrouted');
  return { published: Number(published ?? 0), unrouted: Number(unrouted ?? 0) };
}
