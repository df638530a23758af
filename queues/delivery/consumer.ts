import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from 'bullmq';
import type { EventBus, MessageRecord, QueueRecord } from '../core/index.js';
import { assertInt, assertName, badInput, startConsumerSpan } from '../core/index.js';
import { corked, type Keys, type RedisClient } from '../redis/index.js';
import type { Registry } from '../registry/index.js';
import { recordAttempt } from './attempt-history.js';
import { createSettlement } from './consumer-settle.js';
import { createConsumerWorkers, type HeldDelivery } from './consumer-workers.js';
import { encodeDeliveryId } from './delivery-id.js';
import { FinalDeliveryFailure } from './failure.js';
import { createRedactor, type Redact } from './redaction.js';
import type { ReplySender } from './request-reply.js';
import { isExpired } from './webhook-worker.js';

export { decodeDeliveryId, encodeDeliveryId } from './delivery-id.js';

export interface Delivery {
  /** The ack token: topic, queue, job and the lock token of this attempt. */
  id: string;
  message: MessageRecord;
  queue: string;
  attempt: number;
  deliverBy: string;
}

export interface ConsumersOptions {
  connection: RedisClient;
  keys: Keys;
  registry: Registry;
  events: EventBus;
  onError?: (error: Error) => void;
  /**
   * Runs a nack's error text through this before it is stored (attempt history, failedReason).
   * @default the default header redaction of redaction.ts
   */
  redact?: Redact;
  /** Told of every job that failed for good; awaited, so a nack answers once its dead letter is indexed. */
  onDeadLetter?: (topic: string, queue: string, jobId: string) => Promise<void> | void;
  /**
   * Told of every ack or reply of a message with an ordering key just before BullMQ completes it; the
   * function it answers, awaited once the job is completed, releases the next message of its key
   * (queues/redis/ordering.ts, `finishing`). @default none
   */
  onDelivering?: (topic: string, queue: string, jobId: string, orderingKey: string) => () => Promise<void>;
  /** Where `reply` sends its answers (request-reply.ts). @default none: `reply` is refused */
  replies?: ReplySender;
}

/** receive() takes at most this many deliveries at once and waits at most this long. */
export const RECEIVE_LIMITS = { max: 1000, waitMs: 20_000 } as const;

/** How long a lapsed delivery is remembered after its deadline (BullMQ checks for stalls every ≤ 5 s). */
const IN_FLIGHT_GRACE_MS = 30_000;

/** How often a waiting receive() looks for new messages. */
const POLL_MS = 25;

/** How often this instance looks for deliveries past their deadline whose span is still open. */
const LAPSE_CHECK_MS = 1_000;

type Taken = Delivery | 'expired' | null;

/** Fails an expired message for good instead of handing it out. */
async function expire(options: ConsumersOptions, job: Job<MessageRecord>, token: string): Promise<void> {
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
 * Takes in rounds of 1, 4, 16… at once: a full queue answers max in a handful of round trips instead
 * of max (receive(max: 100): 5 rounds, where doubling took 7, each a wake-up of the gateway and of
 * Redis), and an empty one still costs one take per poll; a short queue costs up to 4× its length
 * in takes that find nothing. Redis runs one round's takes in the order they were sent, so the
 * deliveries keep the queue's order.
 */
async function takeInRounds(
  take: () => Promise<Taken>,
  max: number,
  waitUntil: number,
  stopped: () => boolean,
  connection: RedisClient,
): Promise<Delivery[]> {
  const deliveries: Delivery[] = [];
  let round = 1;
  while (deliveries.length < max && !stopped()) {
    const wanted = Math.min(round, max - deliveries.length);
    // One write for the round's takes (queues/redis/corked.ts).
    const taken = await corked(connection, () => Promise.allSettled(Array.from({ length: wanted }, take)));
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
      round *= 4;
      continue;
    }
    if (deliveries.length > 0 || Date.now() >= waitUntil) break;
    round = 1;
    await sleep(Math.min(POLL_MS, Math.max(1, waitUntil - Date.now())));
  }
  return deliveries;
}

/**
 * Ends the span of a delivery past its deadline that was not settled here: acked through another
 * instance (the job completed, or is gone: completed jobs are removed), or else timed out or nacked
 * elsewhere, which cannot be told apart from here.
 */
async function endLapsedSpan(held: HeldDelivery): Promise<void> {
  const state = await held.job.getState().catch(() => 'unreadable');
  if (state === 'completed' || state === 'unknown') held.span.end({ outcome: 'ack' });
  else {
    const error = `not settled through this instance within ackTimeoutMs (${held.queue.ackTimeoutMs} ms)`;
    held.span.end({ outcome: 'timeout', reason: 'TIMEOUT', error }, held.deadline);
  }
}

/** The deliveries this instance handed out, by delivery id, swept of lapsed ones now and then. */
function createInFlight() {
  const inFlight = new Map<string, HeldDelivery>();
  const lapsing = new WeakSet<HeldDelivery>();
  let lastSweep = 0;
  let timer: NodeJS.Timeout | null = null;

  function checkLapsed(): void {
    const now = Date.now();
    for (const held of inFlight.values()) {
      if (held.deadline > now || lapsing.has(held)) continue;
      lapsing.add(held);
      void endLapsedSpan(held);
    }
  }
  return {
    inFlight,
    hold(id: string, held: HeldDelivery): void {
      inFlight.set(id, held);
      if (timer) return;
      timer = setInterval(checkLapsed, LAPSE_CHECK_MS);
      timer.unref();
    },
    sweep(now: number): void {
      if (now - lastSweep < 1_000) return;
      lastSweep = now;
      // Kept a while past the deadline: the stalled check that notices the lapse reads the attempt here.
      for (const [id, held] of inFlight) if (held.deadline + IN_FLIGHT_GRACE_MS <= now) inFlight.delete(id);
    },
    close(): void {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}

/**
 * CONSUMER queues: no processor, clients pull with receive() (and, later, push over websockets).
 * Each fetch takes a BullMQ job with a fresh lock token; the lock's duration is the visibility
 * timeout, the token is the ack token, and BullMQ's stalled-job check puts unacked jobs back.
 */
export function createConsumers(options: ConsumersOptions) {
  /** Deliveries this instance handed out, so an ack here needs no lookup: BullMQ's script checks the lock. */
  const held = createInFlight();
  const { inFlight } = held;
  let closing: Promise<void> | null = null;
  /** Set by stopTaking(): receive and take hand out nothing more; acks and nacks still work. */
  let stopped = false;
  const redact = options.redact ?? createRedactor();
  const workers = createConsumerWorkers(options, inFlight);
  const settlement = createSettlement({ ...options, redact, inFlight, workers });

  async function consumerQueue(topic: string, name: string): Promise<QueueRecord> {
    assertName('topic', topic);
    assertName('queue', name);
    const queue = await options.registry.requireQueue(topic, name);
    if (queue.target !== 'CONSUMER')
      throw badInput(`Queue ${name} delivers by webhook; only CONSUMER queues can be received from`);
    return queue;
  }

  /**
   * Takes one message off the queue as a delivery, or answers null when there is none (after waiting
   * up to the worker's drain delay when `block`). An expired message is failed on the way, and
   * answers 'expired' so the caller can take another.
   */
  async function takeOne(queue: QueueRecord, block: boolean, via: 'receive' | 'consume'): Promise<Taken> {
    // A receive under way when its queue was deleted (here or elsewhere) takes nothing more, and
    // opens no worker for it again: checked with no await before workerFor, so retain() sees it.
    const table = await options.registry.tableKnowing([{ topic: queue.topic, queue: queue.name }]);
    if (!table.queues(queue.topic).some((current) => current.name === queue.name)) return null;
    const worker = workers.workerFor(queue);
    const token = randomUUID();
    const job = (await worker.getNextJob(token, { block })) as Job<MessageRecord> | undefined;
    if (!job) return null;
    if (isExpired(job.data)) {
      await expire(options, job, token);
      return 'expired';
    }
    const id = encodeDeliveryId(queue.topic, queue.name, job.id as string, token);
    const deadline = Date.now() + queue.ackTimeoutMs;
    const about = {
      topic: queue.topic,
      queue: queue.name,
      messageId: job.data.id,
      attempt: job.attemptsStarted,
    };
    const span = startConsumerSpan({ ...about, headers: job.data.headers }, via);
    held.sweep(Date.now());
    held.hold(id, { job, queue, deadline, span });
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
    if (closing || stopped) return [];
    const queue = await consumerQueue(topic, name);
    const deliveries = await takeInRounds(
      () => takeOne(queue, false, 'receive'),
      max,
      Date.now() + waitMs,
      () => closing !== null || stopped,
      options.connection,
    );
    held.sweep(Date.now());
    return deliveries;
  }

  return {
    receive,
    ack: settlement.ack,
    ackMany: settlement.ackMany,
    /** Answers a request and acks its delivery (consumer-settle.ts). */
    reply: settlement.reply,
    nack: settlement.nack,
    /** The queue `topic`/`name` if it is a CONSUMER queue; NOT_FOUND or BAD_USER_INPUT otherwise. */
    consumerQueue,
    /** One delivery for `consume`; see takeOne. Null once closing. */
    take: (queue: QueueRecord, block: boolean) =>
      closing || stopped ? Promise.resolve(null) : takeOne(queue, block, 'consume'),
    /**
     * Hands out nothing more: a receive under way answers what it has (its long poll ends), and later
     * ones answer none, while acks, nacks and replies still settle what was handed out. For a drain.
     */
    stopTaking(): void {
      stopped = true;
    },
    release: settlement.release,
    onSettled: settlement.onSettled,
    drop: workers.drop,
    /** Closes this instance's workers of queues that are no longer CONSUMER queues in `table`. */
    retain: workers.retain,
    close(): Promise<void> {
      held.close();
      const done = closing ?? workers.close().then(() => undefined);
      closing = done;
      return done;
    },
  };
}

export type Consumers = ReturnType<typeof createConsumers>;
