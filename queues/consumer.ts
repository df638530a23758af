import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { recordAttempt } from './attempt-history.js';
import { DeliveryFailure, FinalDeliveryFailure } from './delivery-failure.js';
import { badInput, notFound } from './errors.js';
import type { EventBus } from './events.js';
import type { Keys } from './keys.js';
import type { Registry } from './registry.js';
import type { FailureReason, MessageRecord, QueueRecord } from './types.js';
import { assertInt, assertName } from './validate.js';
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
}

/** receive() takes at most this many deliveries at once and waits at most this long. */
export const RECEIVE_LIMITS = { max: 1000, waitMs: 20_000 } as const;

/** How often a waiting receive() looks for new messages. */
const POLL_MS = 25;

const SEPARATOR = '~';

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
  let lastSweep = 0;
  let closing: Promise<void> | null = null;

  function sweep(now: number): void {
    if (now - lastSweep < 1_000) return;
    lastSweep = now;
    for (const [id, held] of inFlight) if (held.deadline <= now) inFlight.delete(id);
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
    if (existing) void closeWorker(existing.worker).catch((error: Error) => options.onError?.(error));
    const entry = { worker: null as unknown as Worker<MessageRecord>, record: queue };
    const settings = deliveryWorkerOptions(queue, options.connection, options.keys, () => entry.record);
    entry.worker = new Worker<MessageRecord>(queue.name, null, {
      ...settings,
      lockDuration: queue.ackTimeoutMs,
      // Check often enough that an expired visibility timeout brings the message back promptly.
      stalledInterval: Math.min(queue.ackTimeoutMs, 5_000),
    });
    entry.worker.on('error', (error) => options.onError?.(error));
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
      const job = await Job.fromId<MessageRecord>(worker, jobId);
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

  async function receive(topic: string, name: string, max = 1, waitMs = 0): Promise<Delivery[]> {
    assertInt('max', max, 1, RECEIVE_LIMITS.max);
    assertInt('waitMs', waitMs, 0, RECEIVE_LIMITS.waitMs);
    if (closing) return [];
    const queue = await consumerQueue(topic, name);
    const worker = workerFor(queue);
    const waitUntil = Date.now() + waitMs;
    const deliveries: Delivery[] = [];
    while (deliveries.length < max && !closing) {
      const token = randomUUID();
      const job = (await worker.getNextJob(token, { block: false })) as Job<MessageRecord> | undefined;
      if (!job) {
        if (deliveries.length > 0 || Date.now() >= waitUntil) break;
        await sleep(Math.min(POLL_MS, Math.max(1, waitUntil - Date.now())));
        continue;
      }
      if (isExpired(job.data)) {
        await expire(job, token);
        continue;
      }
      const id = encodeDeliveryId(queue.topic, queue.name, job.id as string, token);
      const deadline = Date.now() + queue.ackTimeoutMs;
      inFlight.set(id, { job, queue, deadline });
      deliveries.push({
        id,
        message: job.data,
        queue: queue.name,
        attempt: job.attemptsStarted,
        deliverBy: new Date(deadline).toISOString(),
      });
    }
    sweep(Date.now());
    return deliveries;
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
    if (held && !checkLock) return { job: held.job, token: parsed.token, queue: held.queue, gone };
    const queue = await options.registry.getQueue(parsed.topic, parsed.queue);
    if (queue?.target !== 'CONSUMER') throw notFound(`Delivery ${deliveryId} is unknown`);
    const worker = workerFor(queue);
    const job = (await Job.fromId(worker, parsed.jobId)) as Job<MessageRecord> | undefined;
    if (!job) throw gone();
    // Checked before anything is written, so a stale delivery id cannot add to the job's history.
    const lock = await options.connection.get(worker.toKey(`${parsed.jobId}:lock`));
    if (lock !== parsed.token) throw gone();
    return { job, token: parsed.token, queue, gone };
  }

  async function ack(deliveryId: string): Promise<boolean> {
    const { job, token, queue, gone } = await lockedJob(deliveryId, false);
    try {
      await job.moveToCompleted(null, token, false);
    } catch {
      throw gone();
    }
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
    if (retryAfterMs !== null) assertInt('retryAfterMs', retryAfterMs, 0, 24 * 60 * 60 * 1000);
    if (error !== null && error.length > 4096)
      throw badInput('error is longer than 4096 characters', { field: 'error' });
    const { job, token, queue, gone } = await lockedJob(deliveryId, true);
    const why = reason ?? 'PROCESSING';
    const detail = error ?? 'rejected by the consumer';
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
    const final = failure instanceof FinalDeliveryFailure || job.attemptsMade >= (job.opts.attempts ?? 1);
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
    /** Forgets a deleted queue's worker. */
    async drop(topic: string, name: string): Promise<void> {
      const entry = workers.get(`${topic}/${name}`);
      workers.delete(`${topic}/${name}`);
      if (entry) await closeWorker(entry.worker);
    },
    close(): Promise<void> {
      closing ??= Promise.allSettled([...workers.values()].map(({ worker }) => closeWorker(worker))).then(
        () => undefined,
      );
      return closing;
    },
  };
}

export type Consumers = ReturnType<typeof createConsumers>;
