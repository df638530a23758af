import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Dispatcher } from 'undici';
import type { EventBus, MessageRecord, QueueRecord } from '../core/index.js';
import { ErrorCode, traceDelivery } from '../core/index.js';
import type { Keys, RedisClient } from '../redis/index.js';
import type { RoutingTable } from '../registry/index.js';
import { activeSigningSecrets, webhookHeaders } from '../signing/index.js';
import { reasonOf, recordAttempt } from './attempt-history.js';
import type { CircuitBreaker, CircuitTarget, GateVerdict } from './circuit-breaker.js';
import { deliveryFailure, FinalDeliveryFailure } from './failure.js';
import { createRedactor, type Redact } from './redaction.js';
import type { ReplySender } from './request-reply.js';
import { postWebhook, type ResponseBody } from './webhook-http.js';
import { closeWorker, deliveryWorkerOptions } from './worker-options.js';

export interface WebhookWorkersOptions {
  /** Shared connection for the workers' ordinary commands; BullMQ duplicates it for blocking ones. */
  connection: RedisClient;
  keys: Keys;
  events: EventBus;
  /**
   * The connection pool deliveries go through: the engine passes its SSRF-guarded agent.
   * @default undici's global dispatcher, which checks no address
   */
  dispatcher?: Dispatcher;
  onError?: (error: Error) => void;
  /**
   * Runs every error text through this before it is stored (attempt history, failedReason).
   * @default the default header redaction of redaction.ts
   */
  redact?: Redact;
  /** Told of every job that failed for good, so the dead-letter index has it at once. @default none */
  onDeadLetter?: (topic: string, queue: string, jobId: string) => void;
  /**
   * Told of every message with an ordering key delivered (a 2xx, an ack, a reply), after BullMQ
   * completed it, so the next message of its key is released (queues/redis/ordering.ts). @default none
   */
  onDelivered?: (topic: string, queue: string, jobId: string, orderingKey: string) => Promise<void> | void;
  /** Holds deliveries back from an endpoint that keeps failing (queues/delivery/circuit-breaker.ts). @default none */
  circuit?: CircuitBreaker;
  /** Where a 2xx body answering a request goes (request-reply.ts). @default none: bodies are not read */
  replies?: ReplySender;
}

/**
 * A rate limit no job count can stay under: the circuit breaker sets BullMQ's limiter key to it to
 * stop fetching. BullMQ honours its limiter key only for workers that have a limiter.
 */
const NO_LIMIT = { max: Number.MAX_SAFE_INTEGER, duration: 1_000 };
/**
 * How soon the deliveries a crashed gateway held are delivered again: a worker renews the lock of
 * each delivery it runs every `lockDuration / 2`, so a lock outlives its holder by at most
 * `lockDuration`, and every live worker looks for such stalled deliveries every `stalledInterval`:
 * redelivery within 15 s of a kill -9, where BullMQ's defaults (30 s and 30 s) took up to a minute.
 * Not shorter, because a delivery whose renewal is late (an event loop blocked that long) is taken
 * for stalled and delivered twice.
 */
const WEBHOOK_LOCKS = { lockDuration: 10_000, stalledInterval: 5_000 } as const;

/** How often a worker held back by an open circuit looks again whether it may deliver. */
const CIRCUIT_RECHECK_MS = 1_000;

interface Running {
  worker: Worker<MessageRecord>;
  record: QueueRecord;
}

const queueId = (queue: Pick<QueueRecord, 'topic' | 'name'>) => `${queue.topic}/${queue.name}`;

/** What a running worker cannot change on the fly: BullMQ fixes its stalled-job policy at construction. */
const needsRestart = (before: QueueRecord, after: QueueRecord) =>
  before.deliveryMode !== after.deliveryMode || before.retry.maxAttempts !== after.retry.maxAttempts;

export const isExpired = (message: MessageRecord, now = Date.now()) =>
  message.expiresAt !== null && Date.parse(message.expiresAt) <= now;

/**
 * A webhook's answer to a request: the JSON body of its 2xx response. An empty body acks without a
 * reply (the request waits on, for another queue's reply or its timeout); a body that is not JSON
 * fails the request with VALIDATION, one beyond the topic's size limit with PAYLOAD_TOO_LARGE, at once.
 */
async function answerRequest(
  replies: ReplySender,
  replyTo: string,
  message: MessageRecord,
  queue: QueueRecord,
  body: ResponseBody,
): Promise<boolean> {
  const about = { messageId: message.id, queue: queue.name };
  if (body.truncated) {
    const maxBytes = await replies.maxBytes(message.topic);
    return replies.refuse(replyTo, {
      ...about,
      code: ErrorCode.PayloadTooLarge,
      message: `Queue ${queue.name}'s webhook answered with a body over topic ${message.topic}'s ${maxBytes} bytes`,
    });
  }
  if (body.text.trim() === '') return false;
  let payload: unknown;
  try {
    payload = JSON.parse(body.text);
  } catch {
    return replies.refuse(replyTo, {
      ...about,
      code: ErrorCode.Validation,
      message: `Queue ${queue.name}'s webhook answered 2xx with a body that is not JSON`,
    });
  }
  return replies.reply(replyTo, { ...about, payload, headers: {} });
}

/**
 * One BullMQ Worker per WEBHOOK queue, kept in step with the registry: each job is one signed POST.
 * Several gateway instances run workers on the same queues and BullMQ's locks keep them from
 * delivering one job twice at once.
 */
export function createWebhookWorkers(options: WebhookWorkersOptions) {
  const running = new Map<string, Running>();
  let closing: Promise<void> | null = null;
  /** Set by pause(): no worker fetches, and a job fetched in the race goes back untouched. */
  let paused = false;
  const redact = options.redact ?? createRedactor();

  /** Reports a breaker error and answers `fallback`: the delivery's own outcome matters more. */
  const breakerError =
    <T>(fallback: T) =>
    (error: unknown): T => {
      options.onError?.(error instanceof Error ? error : new Error(String(error)));
      return fallback;
    };

  async function deliver(
    job: Job<MessageRecord>,
    queue: QueueRecord,
    circuitTarget: CircuitTarget,
    traceHeaders: Record<string, string> = {},
  ): Promise<void> {
    const { circuit } = options;
    // The breaker fails open: a Redis hiccup while asking it must not stop a delivery.
    const gate: GateVerdict = circuit
      ? await circuit.gate(circuitTarget, queue.ackTimeoutMs).catch(breakerError({ kind: 'deliver' }))
      : { kind: 'deliver' };
    // Back to the queue without spending an attempt; the limiter key holds every worker back meanwhile.
    if (gate.kind === 'wait') throw Worker.RateLimitError();
    const probe = gate.kind === 'probe';
    // Paused while the breaker was asked: back to the queue before any POST (a probe goes ahead, so
    // that the half-open circuit gets its answer).
    if (paused && !probe) throw Worker.RateLimitError();
    const message = job.data;
    // Not attemptsStarted: a delivery the circuit sent back to the queue started, but was no attempt.
    const attempt = job.attemptsMade + job.stalledCounter + 1;
    const startedAt = Date.now();
    if (isExpired(message, startedAt)) {
      const failure = new FinalDeliveryFailure('EXPIRED', `message expired at ${message.expiresAt}`);
      await recordAttempt(job, {
        attempt,
        at: new Date().toISOString(),
        reason: 'EXPIRED',
        error: failure.detail,
        durationMs: 0,
      });
      throw failure;
    }
    const body = JSON.stringify(message);
    const headers = {
      ...webhookHeaders(activeSigningSecrets(queue, startedAt), message.id, body),
      'x-switchyard-topic': message.topic,
      'x-switchyard-queue': queue.name,
      'x-switchyard-attempt': String(attempt),
      // W3C trace context: this attempt's span, or the message's own traceparent (core/trace.ts).
      ...traceHeaders,
    };
    const { replies } = options;
    const replyTo = replies?.expectsReply(message.replyTo) ? message.replyTo : null;
    const outcome = await postWebhook({
      url: queue.url ?? '',
      body,
      headers,
      timeoutMs: queue.ackTimeoutMs,
      dispatcher: options.dispatcher,
      replyBodyBytes: replies && replyTo !== null ? await replies.maxBytes(message.topic) : null,
    });
    if (outcome.ok) {
      await circuit?.succeeded(circuitTarget, probe).catch(breakerError(undefined));
      // The delivery is done either way; a reply that cannot be sent must not make it a failure.
      if (replies && replyTo !== null && outcome.body)
        await answerRequest(replies, replyTo, message, queue, outcome.body).catch(breakerError(false));
      options.events.emit({
        kind: 'DELIVERED',
        at: new Date().toISOString(),
        topic: message.topic,
        queue: queue.name,
        messageId: message.id,
        attempt,
        reason: null,
        error: null,
        latencyMs: Date.now() - Date.parse(message.publishedAt),
      });
      return;
    }
    // A receiver may echo our request (or its own secrets) in its answer: nothing unredacted is stored.
    const error = redact(outcome.error);
    await recordAttempt(job, {
      attempt,
      at: new Date(startedAt).toISOString(),
      reason: outcome.reason,
      error,
      durationMs: outcome.durationMs,
    });
    const tripped = await circuit?.failed(circuitTarget, outcome.reason).catch(breakerError(undefined));
    if (tripped?.opened) {
      options.events.emit({
        kind: 'FAILED',
        at: new Date().toISOString(),
        topic: message.topic,
        queue: queue.name,
        messageId: message.id,
        attempt,
        reason: 'CIRCUIT_OPEN',
        error:
          `${probe ? 'The probe failed' : `${tripped.failures} deliveries failed in a row`}: deliveries to ` +
          `this endpoint are held back until ${new Date(tripped.until).toISOString()}, then probed`,
      });
    }
    throw deliveryFailure(outcome.reason, error, outcome.retryable, outcome.retryAfterMs);
  }

  /** One attempt under its trace span; a circuit holding the queue back is no failed attempt. */
  const tracedDeliver = (job: Job<MessageRecord>, queue: QueueRecord, circuitTarget: CircuitTarget) =>
    traceDelivery(
      {
        topic: job.data.topic,
        queue: queue.name,
        messageId: job.data.id,
        attempt: job.attemptsMade + job.stalledCounter + 1,
        headers: job.data.headers,
      },
      (traceHeaders) => deliver(job, queue, circuitTarget, traceHeaders),
      (error) => error instanceof Error && error.name === 'RateLimitError',
    );

  function start(queue: QueueRecord): Running {
    const id = queueId(queue);
    const current = () => running.get(id)?.record ?? queue;
    // A job a paused worker still fetched (a blocking fetch under way, a completion that fetched the
    // next) goes back to the queue unattempted, like one the circuit holds back: no POST starts.
    const processJob = (job: Job<MessageRecord>) =>
      paused ? Promise.reject(Worker.RateLimitError()) : tracedDeliver(job, current(), target);
    const worker = new Worker<MessageRecord>(queue.name, processJob, {
      ...deliveryWorkerOptions(queue, options.connection, options.keys, current),
      ...WEBHOOK_LOCKS,
      // A limiter costs BullMQ a counter update per job: only a breaker that can trip needs one. A
      // worker held back by an open circuit looks again every second, so that an operator's reset or
      // a replay's probe (circuit-reset-2.lua) takes effect on every instance within that second.
      ...(options.circuit?.enabled ? { limiter: NO_LIMIT, maximumRateLimitDelay: CIRCUIT_RECHECK_MS } : {}),
    });
    const target: CircuitTarget = {
      topic: queue.topic,
      name: queue.name,
      limiterKey: options.keys.bull(queue.topic, queue.name).limiter,
    };
    worker.on('error', (error) => options.onError?.(error));
    worker.on('failed', (job, error) => {
      if (!job) return;
      const final =
        error instanceof UnrecoverableError ||
        error.name === 'UnrecoverableError' ||
        job.attemptsMade >= (job.opts.attempts ?? 1);
      if (final && job.id) options.onDeadLetter?.(queue.topic, queue.name, job.id);
      const reason = reasonOf(error.message);
      options.events.emit({
        kind: final ? (reason === 'EXPIRED' ? 'EXPIRED' : 'DEAD_LETTERED') : 'RETRYING',
        at: new Date().toISOString(),
        topic: queue.topic,
        queue: queue.name,
        messageId: job.data.id,
        attempt: job.attemptsMade,
        reason,
        error: error.message,
      });
    });
    worker.on('completed', (job) => {
      const orderingKey = job.data.orderingKey;
      if (orderingKey === undefined || !job.id) return;
      void Promise.resolve(options.onDelivered?.(queue.topic, queue.name, job.id, orderingKey)).catch(
        (error: Error) => options.onError?.(error),
      );
    });
    if (!paused) void worker.run().catch((error: Error) => options.onError?.(error));
    const entry = { worker, record: queue };
    running.set(id, entry);
    return entry;
  }

  async function stop(id: string): Promise<void> {
    const entry = running.get(id);
    running.delete(id);
    if (entry) await closeWorker(entry.worker);
  }

  return {
    /** Starts, updates and stops workers so that exactly the registry's WEBHOOK queues have one. */
    async reconcile(table: RoutingTable): Promise<void> {
      if (closing) return;
      const wanted = new Map<string, QueueRecord>();
      for (const topic of table.topics()) {
        for (const queue of table.queues(topic.name))
          if (queue.target === 'WEBHOOK') wanted.set(queueId(queue), queue);
      }
      const stops: Promise<void>[] = [];
      for (const id of running.keys()) if (!wanted.has(id)) stops.push(stop(id));
      for (const [id, queue] of wanted) {
        const entry = running.get(id);
        if (!entry) start(queue);
        else if (needsRestart(entry.record, queue)) stops.push(stop(id).then(() => void start(queue)));
        else {
          if (entry.worker.concurrency !== queue.concurrency) entry.worker.concurrency = queue.concurrency;
          entry.record = queue;
        }
      }
      await Promise.all(stops);
    },
    get size() {
      return running.size;
    },
    /**
     * Stops every worker fetching, without waiting for the deliveries under way (BullMQ's
     * `pause(true)`): they finish and complete as usual; nothing new starts on this instance, and a
     * worker the registry asks for afterwards is created idle. For a drain, before close(). Idempotent.
     */
    async pause(): Promise<void> {
      paused = true;
      await Promise.allSettled([...running.values()].map(({ worker }) => worker.pause(true)));
    },
    /** Lets in-flight deliveries finish (BullMQ's close waits for them), then stops. Idempotent. */
    close(): Promise<void> {
      closing ??= Promise.allSettled([...running.keys()].map(stop)).then(() => undefined);
      return closing;
    },
  };
}

export type WebhookWorkers = ReturnType<typeof createWebhookWorkers>;
