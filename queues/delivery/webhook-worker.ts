import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Dispatcher } from 'undici';
import type { EventBus, MessageRecord, QueueRecord } from '../core/index.js';
import type { Keys, RedisClient } from '../redis/index.js';
import type { RoutingTable } from '../registry/index.js';
import { reasonOf } from './attempt-history.js';
import { Autoscaler, type AutoscaleSettings, type BacklogSample, type ScaledWorker } from './autoscaler.js';
import type { CircuitBreaker, CircuitTarget } from './circuit-breaker.js';
import { createRedactor, type Redact } from './redaction.js';
import type { ReplySender } from './request-reply.js';
import { SettlingWorker } from './settling-worker.js';
import { type DeliverContext, tracedDeliver } from './webhook-deliver.js';
import { deliveryWorkerOptions } from './worker-options.js';

export { isExpired } from './webhook-deliver.js';

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
  /**
   * Reads a queue's backlog and lag, for queues with a concurrency range (autoscaler.ts).
   * @default none: such queues stay at the concurrency they start at
   */
  measure?: (queue: QueueRecord) => Promise<BacklogSample>;
  /** How ranged queues scale. @default AUTOSCALE_DEFAULTS */
  autoscale?: Partial<AutoscaleSettings>;
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
  worker: SettlingWorker<MessageRecord>;
  record: QueueRecord;
  /** The worker as the autoscaler sees it: its concurrency and the deliveries it runs now. */
  scaled: ScaledWorker;
}

const queueId = (queue: Pick<QueueRecord, 'topic' | 'name'>) => `${queue.topic}/${queue.name}`;

/** What a running worker cannot change on the fly: BullMQ fixes its stalled-job policy at construction. */
const needsRestart = (before: QueueRecord, after: QueueRecord) =>
  before.deliveryMode !== after.deliveryMode || before.retry.maxAttempts !== after.retry.maxAttempts;

/** BullMQ's failed event: a dead letter (told to onDeadLetter) or a retry, as a delivery event. */
function reportFailed(
  options: WebhookWorkersOptions,
  queue: QueueRecord,
  job: Job<MessageRecord>,
  error: Error,
) {
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
}

/** A completed message with an ordering key releases the next of its key. */
function reportCompleted(options: WebhookWorkersOptions, queue: QueueRecord, job: Job<MessageRecord>) {
  const orderingKey = job.data.orderingKey;
  if (orderingKey === undefined || !job.id) return;
  void Promise.resolve(options.onDelivered?.(queue.topic, queue.name, job.id, orderingKey)).catch(
    (error: Error) => options.onError?.(error),
  );
}

/** The worker as the autoscaler moves it, counting the deliveries under way. */
function scaledView(worker: Worker<MessageRecord>): ScaledWorker & { started(): void; ended(): void } {
  let busy = 0;
  return {
    get concurrency() {
      return worker.concurrency;
    },
    set concurrency(value: number) {
      worker.concurrency = value;
    },
    get busy() {
      return busy;
    },
    started: () => void busy++,
    ended: () => void busy--,
  };
}

/**
 * One BullMQ Worker per WEBHOOK queue, kept in step with the registry: each job is one signed POST.
 * Several gateway instances run workers on the same queues and BullMQ's locks keep them from
 * delivering one job twice at once. A queue with a concurrency range has its worker moved within it
 * by this instance's autoscaler.
 */
export class WebhookWorkers {
  private readonly running = new Map<string, Running>();
  private closing: Promise<void> | null = null;
  /** Set by pause(): no worker fetches, and a job fetched in the race goes back untouched. */
  private paused = false;
  private readonly ctx: DeliverContext;
  private readonly autoscaler: Autoscaler;

  constructor(private readonly options: WebhookWorkersOptions) {
    this.ctx = {
      events: options.events,
      dispatcher: options.dispatcher,
      circuit: options.circuit,
      replies: options.replies,
      redact: options.redact ?? createRedactor(),
      onError: options.onError,
      paused: () => this.paused,
    };
    this.autoscaler = new Autoscaler({
      measure: options.measure ?? (async () => ({ waiting: 0, lagMs: null })),
      settings: options.autoscale,
      onError: options.onError,
    });
  }

  /** Starts, updates and stops workers so that exactly the registry's WEBHOOK queues have one. */
  async reconcile(table: RoutingTable): Promise<void> {
    if (this.closing) return;
    const wanted = new Map<string, QueueRecord>();
    for (const topic of table.topics()) {
      for (const queue of table.queues(topic.name))
        if (queue.target === 'WEBHOOK') wanted.set(queueId(queue), queue);
    }
    const stops: Promise<void>[] = [];
    for (const id of this.running.keys()) if (!wanted.has(id)) stops.push(this.stop(id));
    for (const [id, queue] of wanted) {
      const entry = this.running.get(id);
      if (!entry) this.start(queue);
      else if (needsRestart(entry.record, queue))
        stops.push(this.stop(id).then(() => void this.start(queue)));
      else {
        entry.record = queue;
        this.autoscaler.follow(id, queue, entry.scaled);
      }
    }
    await Promise.all(stops);
  }

  get size(): number {
    return this.running.size;
  }

  /**
   * The deliveries this instance's worker for the queue may run at once now (where its autoscaler
   * stands, for a ranged queue); null when this instance runs no worker for it.
   */
  concurrencyOf(queue: Pick<QueueRecord, 'topic' | 'name'>): number | null {
    const id = queueId(queue);
    return this.autoscaler.concurrencyOf(id) ?? this.running.get(id)?.worker.concurrency ?? null;
  }

  /**
   * Stops every worker fetching, without waiting for the deliveries under way (BullMQ's
   * `pause(true)`): they finish and complete as usual; nothing new starts on this instance, and a
   * worker the registry asks for afterwards is created idle. For a drain, before close(). Idempotent.
   */
  async pause(): Promise<void> {
    this.paused = true;
    await Promise.allSettled([...this.running.values()].map(({ worker }) => worker.pause(true)));
  }

  /** Lets in-flight deliveries finish (BullMQ's close waits for them), then stops. Idempotent. */
  close(): Promise<void> {
    this.autoscaler.close();
    this.closing ??= Promise.allSettled([...this.running.keys()].map((id) => this.stop(id))).then(
      () => undefined,
    );
    return this.closing;
  }

  private start(queue: QueueRecord): Running {
    const { options } = this;
    const id = queueId(queue);
    const current = () => this.running.get(id)?.record ?? queue;
    const target: CircuitTarget = {
      topic: queue.topic,
      name: queue.name,
      limiterKey: options.keys.bull(queue.topic, queue.name).limiter,
    };
    // A job a paused or stopping worker still fetched (a blocking fetch under way, a completion that
    // fetched the next) goes back to the queue unattempted, like one the circuit holds back: no POST starts.
    const processJob = async (job: Job<MessageRecord>) => {
      if (this.paused || worker.isPaused()) throw Worker.RateLimitError();
      scaled.started();
      try {
        return await tracedDeliver(this.ctx, job, current(), target);
      } finally {
        scaled.ended();
      }
    };
    const worker = new SettlingWorker<MessageRecord>(queue.name, processJob, {
      ...deliveryWorkerOptions(queue, options.connection, options.keys, current),
      ...WEBHOOK_LOCKS,
      // A limiter costs BullMQ a counter update per job: only a breaker that can trip needs one. A
      // worker held back by an open circuit looks again every second, so that an operator's reset or
      // a replay's probe (circuit-reset-2.lua) takes effect on every instance within that second.
      ...(options.circuit?.enabled ? { limiter: NO_LIMIT, maximumRateLimitDelay: CIRCUIT_RECHECK_MS } : {}),
    });
    const scaled = scaledView(worker);
    worker.on('error', (error) => options.onError?.(error));
    worker.on('failed', (job, error) => {
      if (job) reportFailed(options, queue, job, error);
    });
    worker.on('completed', (job) => reportCompleted(options, queue, job));
    const entry = { worker, record: queue, scaled };
    this.running.set(id, entry);
    this.autoscaler.follow(id, queue, scaled);
    if (!this.paused) void worker.run().catch((error: Error) => options.onError?.(error));
    return entry;
  }

  private async stop(id: string): Promise<void> {
    const entry = this.running.get(id);
    this.running.delete(id);
    this.autoscaler.forget(id);
    // Stays listed by Queue.getWorkers() until its deliveries under way are settled: an instance
    // deleting the queue waits for that before it removes the queue's keys (settling-worker.ts).
    if (entry) await entry.worker.stopAndClose();
  }
}

export const createWebhookWorkers = (options: WebhookWorkersOptions) => new WebhookWorkers(options);
