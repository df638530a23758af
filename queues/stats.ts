import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

export interface QueueStats {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  deadLettered: number;
  paused: boolean;
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
export async function queueStats(queue: Queue): Promise<QueueStats> {
  const [counts, completed, paused] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'paused', 'waiting-children'),
    queue.getMetrics('completed', 0, 0),
    queue.isPaused(),
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
  };
}

export async function topicCounters(
  client: Redis,
  keys: Keys,
  topic: string,
): Promise<Omit<TopicStats, 'deadLettered'>> {
  const [published, unrouted] = await client.hmget(keys.topicStats(topic), 'published', 'unrouted');
  return { published: Number(published ?? 0), unrouted: Number(unrouted ?? 0) };
}
