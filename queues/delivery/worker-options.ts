import type { WorkerOptions } from 'bullmq';
import type { QueueRecord } from '../core/index.js';
import type { Keys, RedisClient } from '../redis/index.js';
import { retryDelay } from './backoff.js';
import { DeliveryFailure } from './failure.js';

/** Minute data points BullMQ keeps for completed/failed counts; its running total feeds QueueStats. */
const METRICS_DATA_POINTS = 60;

/**
 * BullMQ worker settings shared by webhook workers and consumer (manual fetch) workers, derived from
 * the queue's record. `current` answers the queue's latest record so a retry policy change applies
 * to the next retry without restarting the worker.
 */
export function deliveryWorkerOptions(
  queue: QueueRecord,
  connection: RedisClient,
  keys: Keys,
  current: () => QueueRecord,
): WorkerOptions {
  return {
    connection,
    prefix: keys.bullPrefix(queue.topic),
    concurrency: queue.concurrency,
    autorun: false,
    metrics: { maxDataPoints: METRICS_DATA_POINTS },
    // At-most-once: a delivery cut short by a crash is failed, never handed out again.
    maxStalledCount: queue.deliveryMode === 'AT_MOST_ONCE' ? 0 : Math.max(1, queue.retry.maxAttempts - 1),
    settings: {
      backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) => {
        if (error instanceof DeliveryFailure && error.exactDelay && error.retryAfterMs !== null) {
          return error.retryAfterMs;
        }
        const retryAfterMs = error instanceof DeliveryFailure ? error.retryAfterMs : null;
        return retryDelay(current().retry, attemptsMade, retryAfterMs);
      },
    },
  };
}

/**
 * Closes a BullMQ worker once its connections are up: closing one that is still connecting leaves a
 * rejected promise nobody awaits ("Connection is closed."), which would take the process down.
 */
export async function closeWorker(worker: {
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}): Promise<void> {
  await worker.waitUntilReady().catch(() => {});
  await worker.close();
}
