import { Job, type Worker } from 'bullmq';
import type { EventBus, FailureReason, MessageRecord, QueueRecord } from '../core/index.js';
import {
  assertInt,
  badInput,
  DAY,
  ErrorCode,
  notFound,
  parseHeaders,
  SwitchyardError,
} from '../core/index.js';
import { corked, type Keys, type RedisClient } from '../redis/index.js';
import type { Registry } from '../registry/index.js';
import { recordAttempt } from './attempt-history.js';
import type { HeldDelivery } from './consumer-workers.js';
import { decodeDeliveryId } from './delivery-id.js';
import { DeliveryFailure, FinalDeliveryFailure } from './failure.js';
import type { Redact } from './redaction.js';
import type { ReplySender } from './request-reply.js';

export interface SettlementOptions {
  connection: RedisClient;
  keys: Keys;
  registry: Registry;
  events: EventBus;
  onError?: (error: Error) => void;
  onDeadLetter?: (topic: string, queue: string, jobId: string) => Promise<void> | void;
  /**
   * Told of every ack of a message with an ordering key just before BullMQ completes it; the function
   * it answers is awaited once the job is completed (queues/redis/ordering.ts, `finishing`). @default none
   */
  onDelivering?: (topic: string, queue: string, jobId: string, orderingKey: string) => () => Promise<void>;
  /** Where `reply` sends its answers. @default none: `reply` is refused */
  replies?: ReplySender;
  redact: Redact;
  inFlight: Map<string, HeldDelivery>;
  workers: {
    workerFor(queue: QueueRecord): Worker<MessageRecord>;
    has(queue: Pick<QueueRecord, 'topic' | 'name'>): boolean;
  };
}

/** What a settlement step needs: the options and the function that tells listeners of a settle. */
interface Settler {
  options: SettlementOptions;
  settled(deliveryId: string, local: boolean): void;
}

/** A delivery handed out elsewhere, or no longer held: its lock is gone, so is its span's chance. */
const LAPSED = (queue: QueueRecord) =>
  ({
    outcome: 'timeout',
    reason: 'TIMEOUT',
    error: `settled after its deadline (ackTimeoutMs ${queue.ackTimeoutMs} ms)`,
  }) as const;

/**
 * Puts a delivery this instance handed out back in its queue at once, ahead of its priority, for
 * any consumer to take (`consume` does this when a socket closes). The attempt is not counted as
 * failed; the next delivery of the message has the next attempt number. False when the delivery was
 * already settled or its visibility timeout ran out.
 */
async function release(options: SettlementOptions, deliveryId: string): Promise<boolean> {
  const held = options.inFlight.get(deliveryId);
  const parsed = decodeDeliveryId(deliveryId);
  options.inFlight.delete(deliveryId);
  if (!held || !parsed) return false;
  try {
    await held.job.moveToWait(parsed.token);
  } catch {
    held.span.end(LAPSED(held.queue));
    return false;
  }
  held.span.end({ outcome: 'release' });
  // BullMQ adds no wake-up marker for a prioritized job moved back, so consumers blocked on an
  // empty queue would only see it after their drain delay; this wakes them now.
  if (options.workers.has(held.queue))
    await options.connection.zadd(options.keys.bull(held.queue.topic, held.queue.name).marker, 0, '0');
  return true;
}

/**
 * Finds the job a delivery id names. `checkLock` also makes sure the delivery still holds the
 * job's lock before anything is written; without it BullMQ's own finishing script checks the lock.
 */
async function lockedJob(options: SettlementOptions, deliveryId: string, checkLock: boolean) {
  const parsed = decodeDeliveryId(deliveryId);
  if (!parsed)
    throw badInput('deliveryId is not a delivery id answered by receive or consume', {
      field: 'deliveryId',
    });
  const gone = () =>
    notFound(`Delivery ${deliveryId} is unknown, already acknowledged, or past its deadline`);
  const held = options.inFlight.get(deliveryId);
  options.inFlight.delete(deliveryId);
  const local = held !== undefined;
  if (held && !checkLock)
    return { job: held.job, token: parsed.token, queue: held.queue, gone, local, span: held.span };
  const queue = await options.registry.getQueue(parsed.topic, parsed.queue);
  if (queue?.target !== 'CONSUMER') throw notFound(`Delivery ${deliveryId} is unknown`);
  const worker = options.workers.workerFor(queue);
  const job = (await Job.fromId(worker, parsed.jobId)) as Job<MessageRecord> | undefined;
  const lapsed = () => {
    held?.span.end(LAPSED(queue));
    return gone();
  };
  if (!job) throw lapsed();
  // Checked before anything is written, so a stale delivery id cannot add to the job's history.
  const lock = await options.connection.get(options.keys.bull(queue.topic, queue.name).lock(parsed.jobId));
  if (lock !== parsed.token) throw lapsed();
  return { job, token: parsed.token, queue, gone, local, span: held?.span ?? null };
}

type Locked = Awaited<ReturnType<typeof lockedJob>>;

async function complete(
  { options, settled }: Settler,
  deliveryId: string,
  { job, token, queue, gone, local, span }: Locked,
  outcome: 'ack' | 'reply',
): Promise<void> {
  const orderingKey = job.data.orderingKey;
  const advance =
    orderingKey !== undefined && job.id
      ? options.onDelivering?.(queue.topic, queue.name, job.id, orderingKey)
      : undefined;
  try {
    await job.moveToCompleted(null, token, false);
  } catch {
    span?.end(LAPSED(queue));
    throw gone();
  }
  span?.end({ outcome });
  settled(deliveryId, local);
  // Awaited, so the ack answers once the next message of the key can be received. Should it fail,
  // the sweep (queues/redis/ordering.ts) releases the next one a little later.
  await advance?.().catch((error: Error) => options.onError?.(error));
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
}

/** Why a reply cannot be taken for this delivery, checked before the ack; null when it can. */
async function replyRefusal(replies: ReplySender, { job, queue }: Locked, payload: unknown) {
  const replyTo = job.data.replyTo;
  if (replyTo === null || !replies.expectsReply(replyTo)) {
    return badInput(`Message ${job.data.id} expects no reply: it was published, not sent by request`, {
      field: 'deliveryId',
    });
  }
  const sizeBytes = Buffer.byteLength(JSON.stringify(payload));
  const maxBytes = await replies.maxBytes(queue.topic);
  if (sizeBytes > maxBytes) {
    return new SwitchyardError(
      ErrorCode.PayloadTooLarge,
      `The reply is ${sizeBytes} bytes; topic ${queue.topic} takes at most ${maxBytes}`,
      { sizeBytes, maxMessageBytes: maxBytes },
    );
  }
  return null;
}

/**
 * Answers a request (a message published by `request`) and acks its delivery: NOT_FOUND for a spent
 * delivery, BAD_USER_INPUT for a message that expects no reply or a bad header, PAYLOAD_TOO_LARGE
 * beyond the topic's size limit, all before the ack. True once the ack is done, whether or not the
 * reply was the first (a later one is dropped and counted).
 */
async function reply(
  settler: Settler,
  deliveryId: string,
  payload: unknown,
  headers: unknown = null,
): Promise<boolean> {
  const { options } = settler;
  const replies = options.replies;
  if (!replies) throw badInput('This engine takes no replies');
  if (payload === undefined) throw badInput('payload is required', { field: 'payload' });
  const replyHeaders = parseHeaders('headers', headers);
  const held = options.inFlight.get(deliveryId);
  const found = await lockedJob(options, deliveryId, true);
  const refusal = await replyRefusal(replies, found, payload);
  if (refusal) {
    // A refused reply leaves the delivery held as it was: an ack or nack of it works as before.
    if (held) options.inFlight.set(deliveryId, held);
    throw refusal;
  }
  await complete(settler, deliveryId, found, 'reply');
  await replies.reply(found.job.data.replyTo as string, {
    messageId: found.job.data.id,
    queue: found.queue.name,
    payload,
    headers: replyHeaders,
  });
  return true;
}

async function nack(
  { options, settled }: Settler,
  deliveryId: string,
  reason: FailureReason | null = null,
  error: string | null = null,
  retryAfterMs: number | null = null,
): Promise<boolean> {
  if (retryAfterMs !== null) assertInt('retryAfterMs', retryAfterMs, 0, DAY);
  if (error !== null && error.length > 4096)
    throw badInput('error is longer than 4096 characters', { field: 'error' });
  const { job, token, queue, gone, local, span } = await lockedJob(options, deliveryId, true);
  const why = reason ?? 'PROCESSING';
  const detail = options.redact(error ?? 'rejected by the consumer');
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
    span?.end(LAPSED(queue));
    throw gone();
  }
  span?.end({ outcome: 'nack', reason: why, error: detail });
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

/** How a delivery ends: ack, nack, or release (back to its queue untouched). */
export function createSettlement(options: SettlementOptions) {
  /** Told of every successful ack and nack, with whether this instance handed the delivery out. */
  const settledListeners = new Set<(deliveryId: string, handedOutHere: boolean) => void>();
  const settler: Settler = {
    options,
    settled(deliveryId, local) {
      for (const listener of settledListeners) {
        try {
          listener(deliveryId, local);
        } catch (error) {
          options.onError?.(error as Error);
        }
      }
    },
  };
  const ack = async (deliveryId: string): Promise<true> => {
    await complete(settler, deliveryId, await lockedJob(options, deliveryId, false), 'ack');
    return true;
  };
  return {
    ack,
    /**
     * Acks each delivery as `ack` would, all at once: their BullMQ commands, sent in this order, leave
     * in one write and Redis runs them in that order (queues/redis/corked.ts). Answers each one's outcome, true or
     * its error, in the order given; never rejects.
     */
    ackMany: (deliveryIds: readonly string[]): Promise<(true | Error)[]> =>
      corked(options.connection, () =>
        Promise.all(
          deliveryIds.map((deliveryId) =>
            ack(deliveryId).catch((error: unknown) =>
              error instanceof Error ? error : new Error(String(error)),
            ),
          ),
        ),
      ),
    reply: (deliveryId: string, payload: unknown, headers: unknown = null) =>
      reply(settler, deliveryId, payload, headers),
    nack: (
      deliveryId: string,
      reason: FailureReason | null = null,
      error: string | null = null,
      retryAfterMs: number | null = null,
    ) => nack(settler, deliveryId, reason, error, retryAfterMs),
    release: (deliveryId: string) => release(options, deliveryId),
    /** Calls `listener` after every successful ack or nack; answers the function that stops it. */
    onSettled(listener: (deliveryId: string, handedOutHere: boolean) => void): () => void {
      settledListeners.add(listener);
      return () => settledListeners.delete(listener);
    },
  };
}
