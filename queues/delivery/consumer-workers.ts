import { Job, Worker } from 'bullmq';
import type { ConsumerSpan, MessageRecord, QueueRecord } from '../core/index.js';
import type { Keys, RedisClient } from '../redis/index.js';
import type { RoutingTable } from '../registry/index.js';
import { recordAttempt } from './attempt-history.js';
import { closeWorker, deliveryWorkerOptions } from './worker-options.js';

/** A delivery this instance handed out, by delivery id. */
export interface HeldDelivery {
  job: Job<MessageRecord>;
  queue: QueueRecord;
  deadline: number;
  /** Its trace span, ended when the delivery is settled, put back or lapses (docs/TRACING.md). */
  span: ConsumerSpan;
}

export interface ConsumerWorkersOptions {
  connection: RedisClient;
  keys: Keys;
  onError?: (error: Error) => void;
  onDeadLetter?: (topic: string, queue: string, jobId: string) => Promise<void> | void;
}

/**
 * No processor runs on these workers, so there is nothing to wait for; forcing also ends at once a
 * fetch that `consume` has blocked on an empty queue, instead of after BullMQ's drain delay.
 */
const closeConsumerWorker = (worker: Worker<MessageRecord>) =>
  closeWorker({ waitUntilReady: () => worker.waitUntilReady(), close: () => worker.close(true) });

/**
 * One BullMQ worker per CONSUMER queue, without a processor: it only fetches (with a fresh lock token
 * per delivery) and runs BullMQ's stalled check, which puts a lapsed delivery back and is recorded here
 * as a TIMEOUT attempt.
 */
export function createConsumerWorkers(options: ConsumerWorkersOptions, inFlight: Map<string, HeldDelivery>) {
  const workers = new Map<string, { worker: Worker<MessageRecord>; record: QueueRecord }>();

  function workerFor(queue: QueueRecord): Worker<MessageRecord> {
    const id = `${queue.topic}/${queue.name}`;
    const existing = workers.get(id);
    if (
      existing &&
      existing.record.ackTimeoutMs === queue.ackTimeoutMs &&
      existing.record.deliveryMode === queue.deliveryMode
    ) {
      existing.record = queue;
      return existing.worker;
    }
    if (existing) void closeConsumerWorker(existing.worker).catch((error: Error) => options.onError?.(error));
    const entry = { worker: null as unknown as Worker<MessageRecord>, record: queue };
    const settings = deliveryWorkerOptions(queue, options.connection, options.keys, () => entry.record);
    entry.worker = new Worker<MessageRecord>(queue.name, null, {
      ...settings,
      lockDuration: queue.ackTimeoutMs,
      // Check often enough that an expired visibility timeout brings the message back promptly.
      stalledInterval: Math.min(queue.ackTimeoutMs, 5_000),
    });
    entry.worker.on('error', (error) => options.onError?.(error));
    // Only a delivery that stalled too often fails inside BullMQ (when next fetched): always for good.
    entry.worker.on('failed', (job) => {
      if (job?.id) void options.onDeadLetter?.(entry.record.topic, entry.record.name, job.id);
    });
    // A delivery whose visibility timeout ran out is an attempt too: keep it in the history.
    entry.worker.on('stalled', (jobId) => void recordStalled(entry.worker, jobId, entry.record.ackTimeoutMs));
    void entry.worker.startStalledCheckTimer().catch((error: Error) => options.onError?.(error));
    workers.set(id, entry);
    return entry.worker;
  }

  async function recordStalled(
    worker: Worker<MessageRecord>,
    jobId: string,
    ackTimeoutMs: number,
  ): Promise<void> {
    try {
      // The attempt is the one that was handed out: read it from our own hand-out when we have it,
      // since by the time the job is fetched again another receive may already have taken it.
      let handedOut: Job<MessageRecord> | undefined;
      const error = `not acknowledged within ackTimeoutMs (${ackTimeoutMs} ms)`;
      for (const [deliveryId, held] of inFlight) {
        if (held.job.id === jobId && held.queue.name === worker.name) {
          handedOut = held.job;
          inFlight.delete(deliveryId);
          held.span.end({ outcome: 'timeout', reason: 'TIMEOUT', error }, held.deadline);
        }
      }
      const job = handedOut ?? (await Job.fromId<MessageRecord>(worker, jobId));
      if (!job) return;
      await recordAttempt(job, {
        attempt: job.attemptsStarted,
        at: new Date().toISOString(),
        reason: 'TIMEOUT',
        error,
        durationMs: ackTimeoutMs,
      });
    } catch (error) {
      options.onError?.(error as Error);
    }
  }

  return {
    workerFor,
    /** Whether this instance runs a worker for the queue. */
    has: (queue: Pick<QueueRecord, 'topic' | 'name'>) => workers.has(`${queue.topic}/${queue.name}`),
    /** Forgets a deleted queue's worker. */
    async drop(topic: string, name: string): Promise<void> {
      const entry = workers.get(`${topic}/${name}`);
      workers.delete(`${topic}/${name}`);
      if (entry) await closeConsumerWorker(entry.worker);
    },
    /**
     * Closes the workers of queues the registry no longer has as CONSUMER queues: a queue deleted
     * through another instance is obliterated once no instance runs a worker on it (deleteQueue).
     */
    async retain(table: RoutingTable): Promise<void> {
      const gone = [...workers.values()].filter(
        ({ record }) =>
          table.queues(record.topic).find((queue) => queue.name === record.name)?.target !== 'CONSUMER',
      );
      for (const { record } of gone) workers.delete(`${record.topic}/${record.name}`);
      await Promise.all(gone.map(({ worker }) => closeConsumerWorker(worker)));
    },
    close: () => Promise.allSettled([...workers.values()].map(({ worker }) => closeConsumerWorker(worker))),
  };
}

export type ConsumerWorkers = ReturnType<typeof createConsumerWorkers>;
