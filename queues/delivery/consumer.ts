import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { EventBus, FailureReason, MessageRecord, QueueRecord } from '../core/index.js';
import { assertInt, assertName, badInput, DAY, notFound } from '../core/index.js';
import type { Keys } from '../redis/index.js';
import type { Registry } from '../registry/index.js';
import { recordAttempt } from './attempt-history.js';
import { DeliveryFailure, FinalDeliveryFailure } from './failure.js';
import { createRedactor, type Redact } from './redaction.js';
import { isExpired } from './webhook-worker.js';
import { closeWorker, deliveryWorkerOptions } from './worker-options.js';

export interface Delivery {
  /** The ack token: topic, queue, job and the lock token of this attempt. */
  id: string;
  message: MessageRecord;
  queue: string;
  attempt: number;
  deliverBy: string;
}

export interface ConsumersOptions {
  connection: Redis;
  keys: Keys;
  registry: Registry;
  events: EventBus;
  onError?: (error: Error) => void;
  /**
   * Runs a nack's error text through this before it is stored (attempt history, failedReason).
   * @default the default header redaction of dead-letter-redaction.ts
   */
  redact?: Redact;
  /** Told of every job that failed for good; awaited, so a nack answers once its dead letter is indexed. */
  onDeadLetter?: (topic: string, queue: string, jobId: string) => Promise<void> | void;
}

/** receive() takes at most this many deliveries at once and waits at most this long. */
export const RECEIVE_LIMITS = { max: 1000, waitMs: 20_000 } as const;

/** How long a lapsed delivery is remembered after its deadline (BullMQ checks for stalls every ≤ 5 s). */
const IN_FLIGHT_GRACE_MS = 30_000;

/** How often a waiting receive() looks for new messages. */
const POLL_MS = 25;

const SEPARATOR = '~';

/**
 * No processor runs on these workers, so there is nothing to wait for; forcing also ends at once a
 * fetch that `consume` has blocked on an empty queue, instead of after BullMQ's drain delay.
 */
const closeConsumerWorker = (worker: Worker<MessageRecord>) =>
  closeWorker({ waitUntilReady: () => worker.waitUntilReady(), close: () => worker.close(true) });

export function encodeDeliveryId(topic: string, queue: string, jobId: string, token: string): string {
  return [topic, queue, jobId, token].join(SEPARATOR);
}

export function decodeDeliveryId(
  id: string,
): { topic: string; queue: string; jobId: string; token: string } | null {
  const parts = id.split(SEPARATOR);
  if (parts.length !== 4 || parts.some((part) => part.length === 0)) return null;
  const [topic, queue, jobId, token] = parts as [string, string, string, string];
  return { topic, queue, jobId, token };
}

/**
 * CONSUMER queues: no processor, clients pull with receive() (and, later, push over websockets).
 * Each fetch takes a BullMQ job with a fresh lock token; the lock's duration is the visibility
 * timeout, the token is the ack token, and BullMQ's stalled-job check puts unacked jobs back.
 */
export function createConsumers(options: ConsumersOptions) {
  const workers = new Map<string, { worker: Worker<MessageRecord>; record: QueueRecord }>();
  /** Deliveries this instance handed out, so an ack here needs no lookup: BullMQ's script checks the lock. */
  const inFlight = new Map<string, { job: Job<MessageRecord>; queue: QueueRecord; deadline: number }>();
  /** Told of every successful ack and nack, with whether this instance handed the delivery out. */
  const settledListeners = new Set<(deliveryId: string, handedOutHere: boolean) => void>();
  let lastSweep = 0;
  let closing: Promise<void> | null = null;
  const redact = options.redact ?? createRedactor();

  function sweep(now: number): void {
    if (now - lastSweep < 1_000) return;
    lastSweep = now;
    // Kept a while past the deadline: the stalled check that notices the lapse reads the attempt here.
    for (const [id, held] of inFlight) if (held.deadline + IN_FLIGHT_GRACE_MS <= now) inFlight.delete(id);
  }

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
      for (const [deliveryId, held] of inFlight) {
        if (held.job.id === jobId && held.queue.name === worker.name) {
          handedOut = held.job;
          inFlight.delete(deliveryId);
        }
      }
      const job = handedOut ?? (await Job.fromId<MessageRecord>(worker, jobId));
      if (!job) return;
      await recordAttempt(job, {
        attempt: job.attemptsStarted,
        at: new Date().toISOString(),
        reason: 'TIMEOUT',
        error: `not acknowledged within ackTimeoutMs (${ackTimeoutMs} ms)`,
        durationMs: ackTimeoutMs,
      });
    } catch (error) {
      options.onError?.(error as Error);
    }
  }

  async function consumerQueue(topic: string, name: string): Promise<QueueRecord> {
    assertName('topic', topic);
    assertName('queue', name);
    const queue = await options.registry.requireQueue(topic, name);
    if (queue.target !== 'CONSUMER')
      throw badInput(`Queue ${name} delivers by webhook; only CONSUMER queues can be received from`);
    return queue;
  }

  /** Fails an expired message for good instead of handing it out. */
  async function expire(job: Job<MessageRecord>, token: string): Promise<void> {
    const detail = `message expired at ${job.data.expiresAt}`;
    await recordAttempt(job, {
      attempt: job.attemptsStarted,
      at: new Date().toISOString(),
      reason: 'EXPIRED',
      error: detail,
      durationMs: 0,
    });
    await job.moveToFailed(new FinalDeliveryFailure('EXPIRED', detail), token, false);
    if (job.id) await options.onDeadLetter?.(job.data.topic, job.queueName, job.id);
    options.events.emit({
      kind: 'EXPIRED',
      at: new Date().toISOString(),
      topic: job.data.topic,
      queue: job.queueName,
      messageId: job.data.id,
      attempt: job.attemptsStarted,
      reason: 'EXPIRED',
      error: detail,
    });
  }

  /**
   * Takes one message off the queue as a delivery, or answers null when there is none (after waiting
   * up to the worker's drain delay when `block`). An expired message is failed on the way, and
   * answers 'expired' so the caller can take another.
   */
  async function takeOne(queue: QueueRecord, block: boolean): Promise<Delivery | 'expired' | null> {
    const worker = workerFor(queue);
    const token = randomUUID();
    const job = (await worker.getNextJob(token, { block })) as Job<MessageRecord> | undefined;
    if (!job) return null;
    if (isExpired(job.data)) {
      await expire(job, token);
      return 'expired';
    }
    const id = encodeDeliveryId(queue.topic, queue.name, job.id as string, token);
    const deadline = Date.now() + queue.ackTimeoutMs;
    sweep(Date.now());
    inFlight.set(id, { job, queue, deadline });
    return {
      id,
      message: job.data,
      queue: queue.name,
      attempt: job.attemptsStarted,
      deliverBy: new Date(deadline).toISOString(),
    };
  }

  async function receive(topic: string, name: string, max = 1, waitMs = 0): Promise<Delivery[]> {
    assertInt('max', max, 1, RECEIVE_LIMITS.max);
    assertInt('waitMs', waitMs, 0, RECEIVE_LIMITS.waitMs);
    if (closing) return [];
    const queue = await consumerQueue(topic, name);
    const waitUntil = Date.now() + waitMs;
    const deliveries: Delivery[] = [];
    // Takes in rounds of 1, 2, 4… at once: a full queue answers max in a handful of round trips
    // instead of max, and an empty one still costs one take per poll. Redis runs one round's takes in
    // the order they were sent, so the deliveries keep the queue's order.
    let round = 1;
    while (deliveries.length < max && !closing) {
      const wanted = Math.min(round, max - deliveries.length);
      const taken = await Promise.allSettled(Array.from({ length: wanted }, () => takeOne(queue, false)));
      let drained = false;
      let failed: { reason: unknown } | null = null;
      for (const outcome of taken) {
        if (outcome.status === 'rejected') failed ??= outcome;
        else if (outcome.value === null) drained = true;
        else if (outcome.value !== 'expired') deliveries.push(outcome.value);
      }
      if (failed) {
        // What was taken is handed out; with nothing taken, the caller learns why.
        if (deliveries.length === 0) throw failed.reason;
        break;
      }
      if (!drained) {
        round *= 2;
        continue;
      }
      if (deliveries.length > 0 || Date.now() >= waitUntil) break;
      round = 1;
      await sleep(Math.min(POLL_MS, Math.max(1, waitUntil - Date.now())));
    }
    sweep(Date.now());
    return deliveries;
  }

  /**
   * Puts a delivery this instance handed out back in its queue at once, ahead of its priority, for
   * any consumer to take (`consume` does this when a socket closes). The attempt is not counted as
   * failed; the next delivery of the message has the next attempt number. False when the delivery was
   * already settled or its visibility timeout ran out.
   */
  async function release(deliveryId: string): Promise<boolean> {
    const held = inFlight.get(deliveryId);
    const parsed = decodeDeliveryId(deliveryId);
    inFlight.delete(deliveryId);
    if (!held || !parsed) return false;
    try {
      await held.job.moveToWait(parsed.token);
    } catch {
      return false;
    }
    // BullMQ adds no wake-up marker for a prioritized job moved back, so consumers blocked on an
    // empty queue would only see it after their drain delay; this wakes them now.
    const worker = workers.get(`${held.queue.topic}/${held.queue.name}`)?.worker;
    if (worker)
      await options.connection.zadd(options.keys.bull(held.queue.topic, held.queue.name).marker, 0, '0');
    return true;
  }

  /**
   * Finds the job a delivery id names. `checkLock` also makes sure the delivery still holds the
   * job's lock before anything is written; without it BullMQ's own finishing script checks the lock.
   */
  async function lockedJob(deliveryId: string, checkLock: boolean) {
    const parsed = decodeDeliveryId(deliveryId);
    if (!parsed)
      throw badInput('deliveryId is not a delivery id answered by receive or consume', {
        field: 'deliveryId',
      });
    const gone = () =>
      notFound(`Delivery ${deliveryId} is unknown, already acknowledged, or past its deadline`);
    const held = inFlight.get(deliveryId);
    inFlight.delete(deliveryId);
    const local = held !== undefined;
    if (held && !checkLock) return { job: held.job, token: parsed.token, queue: held.queue, gone, local };
    const queue = await options.registry.getQueue(parsed.topic, parsed.queue);
    if (queue?.target !== 'CONSUMER') throw notFound(`Delivery ${deliveryId} is unknown`);
    const worker = workerFor(queue);
    const job = (await Job.fromId(worker, parsed.jobId)) as Job<MessageRecord> | undefined;
    if (!job) throw gone();
    // Checked before anything is written, so a stale delivery id cannot add to the job's history.
    const lock = await options.connection.get(options.keys.bull(queue.topic, queue.name).lock(parsed.jobId));
    if (lock !== parsed.token) throw gone();
    return { job, token: parsed.token, queue, gone, local };
  }

  function settled(deliveryId: string, local: boolean): void {
    for (const listener of settledListeners) {
      try {
        listener(deliveryId, local);
      } catch (error) {
        options.onError?.(error as Error);
      }
    }
  }

  async function ack(deliveryId: string): Promise<boolean> {
    const { job, token, queue, gone, local } = await lockedJob(deliveryId, false);
    try {
      await job.moveToCompleted(null, token, false);
    } catch {
      throw gone();
    }
    settled(deliveryId, local);
    options.events.emit({
      kind: 'DELIVERED',
      at: new Date().toISOString(),
      topic: queue.topic,
      queue: queue.name,
      messageId: job.data.id,
      attempt: job.attemptsStarted,
      reason: null,
      error: null,
      latencyMs: Date.now() - Date.parse(job.data.publishedAt),
    });
    return true;
  }

  async function nack(
    deliveryId: string,
    reason: FailureReason | null = null,
    error: string | null = null,
    retryAfterMs: number | null = null,
  ): Promise<boolean> {
    if (retryAfterMs !== null) assertInt('retryAfterMs', retryAfterMs, 0, DAY);
    if (error !== null && error.length > 4096)
      throw badInput('error is longer than 4096 characters', { field: 'error' });
    const { job, token, queue, gone, local } = await lockedJob(deliveryId, true);
    const why = reason ?? 'PROCESSING';
    const detail = redact(error ?? 'rejected by the consumer');
    const failure =
      why === 'REJECTED' || why === 'VALIDATION'
        ? new FinalDeliveryFailure(why, detail)
        : new DeliveryFailure(why, detail, retryAfterMs, retryAfterMs !== null);
    await recordAttempt(job, {
      attempt: job.attemptsStarted,
      at: new Date().toISOString(),
      reason: why,
      error: detail,
      durationMs: null,
    });
    try {
      await job.moveToFailed(failure, token, false);
    } catch {
      throw gone();
    }
    settled(deliveryId, local);
    const final = failure instanceof FinalDeliveryFailure || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (final && job.id) await options.onDeadLetter?.(queue.topic, queue.name, job.id);
    options.events.emit({
      kind: final ? 'DEAD_LETTERED' : 'RETRYING',
      at: new Date().toISOString(),
      topic: queue.topic,
      queue: queue.name,
      messageId: job.data.id,
      attempt: job.attemptsStarted,
      reason: why,
      error: detail,
    });
    return true;
  }

  return {
    receive,
    ack,
    nack,
    /** The queue `topic`/`name` if it is a CONSUMER queue; NOT_FOUND or BAD_USER_INPUT otherwise. */
    consumerQueue,
    /** One delivery for `consume`; see takeOne. Null once closing. */
    take: (queue: QueueRecord, block: boolean) => (closing ? Promise.resolve(null) : takeOne(queue, block)),
    release,
    /** Calls `listener` after every successful ack or nack; answers the function that stops it. */
    onSettled(listener: (deliveryId: string, handedOutHere: boolean) => void): () => void {
      settledListeners.add(listener);
      return () => settledListeners.delete(listener);
    },
    /** Forgets a deleted queue's worker. */
    async drop(topic: string, name: string): Promise<void> {
      const entry = workers.get(`${topic}/${name}`);
      workers.delete(`${topic}/${name}`);
      if (entry) await closeConsumerWorker(entry.worker);
    },
    close(): Promise<void> {
      closing ??= Promise.allSettled(
        [...workers.values()].map(({ worker }) => closeConsumerWorker(worker)),
      ).then(() => undefined);
      return closing;
    },
  };
}

export type Consumers = ReturnType<typeof createConsumers>;
