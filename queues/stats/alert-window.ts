/**
 * Per-queue figures over the last alert window, shared by every instance through Redis: what
 * DELIVERY_LATENCY, FAILURE_RATE and RETRIES (alerts.ts) measure. Each instance counts the delivery
 * events of its own workers and consumers in memory and, once per flush, adds them with HINCRBY to the
 * hash of the current time slot of each queue (keys.alertWindow), which expires once out of the window.
 * An evaluation reads the slots of the window of a queue and adds them up, so whichever instance
 * evaluates sees the same figures. Latencies go into the same log-scale histogram as the `stats`
 * window (2 % buckets), so the P95 is exact to within 1 %.
 */
import { type DeliveryEvent, type EventBus, FAILED_ATTEMPT_KINDS } from '../core/index.js';
import { histogramPercentile, latencyBucket } from '../live/index.js';
import type { Keys, RedisClient } from '../redis/index.js';
import { execGrouped } from '../redis/index.js';

/** What an alert evaluation reads of a queue's window. */
export interface AlertWindowFigures {
  /** Attempts that ended (delivered or failed) in the window. */
  attempts: number;
  failed: number;
  /** Failed attempts per attempt; 0 without attempts. */
  failureRate: number;
  /** P95 publish-to-delivered latency of the deliveries in the window; 0 without any. */
  latencyP95Ms: number;
  /** The highest attempt number an attempt in the window had: the attempts its message needed. */
  maxAttempt: number;
}

export const NO_WINDOW_FIGURES: AlertWindowFigures = {
  attempts: 0,
  failed: 0,
  failureRate: 0,
  latencyP95Ms: 0,
  maxAttempt: 0,
};

export interface AlertWindowOptions {
  client: RedisClient;
  keys: Pick<Keys, 'alertWindow'>;
  events: EventBus;
  /**
   * How far back the figures look, in ms.
   * @default 60000
   */
  windowMs?: number;
  /**
   * How often this instance adds its counts to Redis, in ms; 0 only when `flush` is called (tests).
   * Another instance's counts are seen up to this late.
   * @default 1000
   */
  flushMs?: number;
  /**
   * The clock, for tests.
   * @default Date.now
   */
  now?: () => number;
  onError?: (error: Error) => void;
}

/** Slots per window: the window slides by a tenth of itself. */
const SLOTS = 10;

/** Hash fields of a slot: a attempts, f failed, h<bucket> latency histogram, n<attempt> attempt numbers. */
type Counts = Map<string, number>;

/** The circuit breaker's "now held back" notice follows an attempt already counted, so it is not one. */
const isFailedAttempt = (event: DeliveryEvent) =>
  FAILED_ATTEMPT_KINDS.includes(event.kind) && !(event.kind === 'FAILED' && event.reason === 'CIRCUIT_OPEN');

/** Counts not yet in Redis, by slot, then by `<topic>/<queue>`. */
type Pending = Map<number, Map<string, { topic: string; queue: string; counts: Counts }>>;

/** The hash fields one delivery event adds one to; none for an event that is no attempt. */
function fieldsOf(event: DeliveryEvent): string[] {
  const delivered = event.kind === 'DELIVERED';
  if (event.queue === null || (!delivered && !isFailedAttempt(event))) return [];
  const fields = ['a'];
  if (!delivered) fields.push('f');
  if (delivered && event.latencyMs !== undefined && Number.isFinite(event.latencyMs)) {
    fields.push(`h${latencyBucket(Math.max(0, event.latencyMs))}`);
  }
  if (event.attempt !== null && event.attempt > 0) fields.push(`n${event.attempt}`);
  return fields;
}

function count(pending: Pending, slot: number, topic: string, queue: string, field: string): void {
  let queues = pending.get(slot);
  if (!queues) {
    queues = new Map();
    pending.set(slot, queues);
  }
  const id = `${topic}/${queue}`;
  let entry = queues.get(id);
  if (!entry) {
    entry = { topic, queue, counts: new Map() };
    queues.set(id, entry);
  }
  entry.counts.set(field, (entry.counts.get(field) ?? 0) + 1);
}

/** Adds the counts taken to their slots' hashes, each kept a slot past the window. */
async function writeCounts(
  options: AlertWindowOptions,
  taken: Pending,
  windowMs: number,
  slotMs: number,
): Promise<void> {
  const writes = [...taken].flatMap(([slot, queues]) =>
    [...queues.values()].map((entry) => ({ slot, ...entry })),
  );
  // One pipeline per topic on a Redis Cluster (a pipeline stays on one node), one on one Redis.
  const results = await execGrouped(
    options.client,
    writes,
    ({ topic }) => topic,
    (pipeline, write) => {
      const key = options.keys.alertWindow(write.topic, write.queue, write.slot);
      for (const [field, n] of write.counts) pipeline.hincrby(key, field, n);
      // Kept a slot past the window, so a slot is never read after it expired in part.
      pipeline.pexpire(key, windowMs + 2 * slotMs);
    },
  );
  const failed = results.find(([error]) => error !== null)?.[0];
  if (failed) throw failed;
}

/** The window's figures of each queue asked for, in their order, from the slots up to `last`. */
async function readFigures(
  options: AlertWindowOptions,
  queues: ReadonlyArray<{ topic: string; name: string }>,
  last: number,
): Promise<AlertWindowFigures[]> {
  const first = last - SLOTS + 1;
  const results = await execGrouped(
    options.client,
    queues,
    ({ topic }) => topic,
    (pipeline, queue) => {
      for (let slot = first; slot <= last; slot++)
        pipeline.hgetall(options.keys.alertWindow(queue.topic, queue.name, slot));
    },
  );
  return queues.map((_queue, index) =>
    figuresOf(
      Array.from({ length: SLOTS }, (_, offset) => {
        const [error, value] = results[index * SLOTS + offset] ?? [null, null];
        if (error) throw error;
        return (value ?? {}) as Record<string, string>;
      }),
    ),
  );
}

/** A queue's figures, added up over the hashes of its window's slots. */
function figuresOf(slots: readonly Record<string, string>[]): AlertWindowFigures {
  let attempts = 0;
  let failed = 0;
  let maxAttempt = 0;
  const latency = new Map<number, number>();
  for (const slot of slots) {
    for (const [field, text] of Object.entries(slot)) {
      const n = Number(text);
      if (!Number.isFinite(n) || n <= 0) continue;
      const kind = field[0];
      const rest = Number(field.slice(1));
      if (field === 'a') attempts += n;
      else if (field === 'f') failed += n;
      else if (kind === 'h' && Number.isInteger(rest)) latency.set(rest, (latency.get(rest) ?? 0) + n);
      else if (kind === 'n' && Number.isInteger(rest)) maxAttempt = Math.max(maxAttempt, rest);
    }
  }
  return {
    attempts,
    failed,
    failureRate: attempts > 0 ? failed / attempts : 0,
    latencyP95Ms: histogramPercentile(latency, 95),
    maxAttempt,
  };
}

export function createAlertWindow(options: AlertWindowOptions) {
  const windowMs = options.windowMs ?? 60_000;
  const slotMs = Math.max(1, Math.ceil(windowMs / SLOTS));
  const now = options.now ?? Date.now;
  const onError = options.onError ?? (() => {});
  let pending: Pending = new Map();

  const stopCounting = options.events.on((event) => {
    const fields = fieldsOf(event);
    if (fields.length === 0 || event.queue === null) return;
    const slot = Math.floor(now() / slotMs);
    for (const field of fields) count(pending, slot, event.topic, event.queue, field);
  });

  let flushing: Promise<void> = Promise.resolve();

  /** Adds this instance's counts to Redis now; answers once they are there. */
  function flush(): Promise<void> {
    flushing = flushing.then(async () => {
      if (pending.size === 0) return;
      const taken = pending;
      pending = new Map();
      await writeCounts(options, taken, windowMs, slotMs);
    });
    return flushing.catch(onError);
  }

  const timer =
    (options.flushMs ?? 1_000) > 0
      ? setInterval(() => {
          void flush();
        }, options.flushMs ?? 1_000)
      : null;
  timer?.unref();

  return {
    /** The window's figures of each queue asked for, in their order. */
    read: async (queues: ReadonlyArray<{ topic: string; name: string }>): Promise<AlertWindowFigures[]> =>
      queues.length === 0 ? [] : readFigures(options, queues, Math.floor(now() / slotMs)),
    flush,
    windowMs,
    /** Stops counting and adds what was counted to Redis. */
    async close(): Promise<void> {
      if (timer) clearInterval(timer);
      stopCounting();
      await flush();
    },
  };
}

export type AlertWindow = ReturnType<typeof createAlertWindow>;
