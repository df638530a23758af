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

/**
 * When the oldest deliverable job of `queue` became deliverable (ms since the epoch); null when none
 * waits. Two reads: the candidates' ids (waiting-heads-3), then their hashes. A candidate taken in
 * between has no hash left and is passed over, as if read a moment later.
 */
export async function oldestWaitingSince(queue: Queue, commands: Commands): Promise<number | null> {
  const { keys } = queue;
  if (!keys.wait || !keys.paused || !keys.prioritized) {
    throw new Error(`BullMQ queue ${queue.name} has no wait, paused or prioritized key`);
  }
  const ids = await commands.run<string[]>('waiting-heads-3', [keys.wait, keys.paused, keys.prioritized], []);
  if (ids.length === 0) return null;
  const client = await queue.client;
  // BullMQ's own name of a job's hash; the reads go out together, one round trip.
  const hashes = await Promise.all(ids.map((id) => client.hmget(queue.toKey(id), 'timestamp', 'delay')));
  let oldest: number | null = null;
  for (const [timestamp, delay] of hashes) {
    if (timestamp == null || !Number.isFinite(Number(timestamp))) continue;
    const since = Number(timestamp) + (Number(delay) || 0);
    if (oldest === null || since < oldest) oldest = since;
  }
  return oldest;
}

export async function topicCounters(
  client: RedisClient,
  keys: Keys,
  topic: string,
): Promise<Omit<TopicStats, 'deadLettered'>> {
  const [published, unrouted] = await client.hmget(keys.topicStats(topic), 'published', 'unrouted');
  return { published: Number(published ?? 0), unrouted: Number(unrouted ?? 0) };
}
