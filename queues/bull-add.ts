import type { JobJson, Queue, RedisJobOptions } from 'bullmq';
import type { ChainableCommander } from 'ioredis';

/** One message's add to one BullMQ queue, with its data already serialized. */
export interface SerializedAdd {
  jobId: string;
  name: string;
  /**
   * The job's data: the UTF-8 bytes of the JSON text BullMQ stores (and its workers parse). Bytes,
   * not a string, because ioredis copies a Buffer argument into the command as it is, where a string
   * argument is measured and re-encoded three times over; one message going to several queues is
   * encoded once.
   */
  data: Buffer;
  /** Milliseconds since the epoch: the job's `timestamp`. */
  timestamp: number;
  attempts: number;
  /** BullMQ priority (1 is the highest); 0 for none. */
  priority: number;
  /** Set only for a delayed add. */
  delayMs?: number;
  /** The name of the custom backoff strategy the workers implement. */
  backoffType: string;
}

/**
 * Queues a BullMQ add on a transaction, producing the job exactly as `new Job(...).addJob()` would
 * (test/engine/bull-add.test.ts compares the stored jobs field by field), without what that costs
 * per message: a Job object that builds its own Scripts instance, options copied and re-encoded, and
 * a JSON.stringify of data the publisher already holds as text (the canonical payload it hashed).
 * Scripts.addJob is BullMQ's public entry to its add commands.
 *
 * The add settles with EXEC and its answer is read from EXEC's, so its own promise is not awaited.
 */
export function addSerialized(queue: Queue, transaction: ChainableCommander, add: SerializedAdd): void {
  // The key order is the Job constructor's ({ attempts } first, then the caller's options).
  const opts: RedisJobOptions = {
    attempts: add.attempts,
    jobId: add.jobId,
    priority: add.priority,
    backoff: { type: add.backoffType },
    removeOnComplete: true,
    removeOnFail: false,
  };
  if (add.delayMs !== undefined && add.delayMs > 0) opts.delay = add.delayMs;
  const job: JobJson = {
    id: add.jobId,
    name: add.name,
    // BullMQ hands `data` to ioredis as one of the script's arguments and nothing else, and ioredis
    // takes Buffers there; JobJson says string because Job.asJSON makes one.
    data: add.data as unknown as string,
    opts,
    progress: 0,
    attemptsMade: 0,
    attemptsStarted: 0,
    stalledCounter: 0,
    timestamp: add.timestamp,
    failedReason: 'null',
    stacktrace: 'null',
    returnvalue: 'null',
  };
  const target = transaction as unknown as Parameters<Queue['scripts']['addJob']>[0];
  queue.scripts.addJob(target, job, opts, add.jobId).catch(() => {});
}
