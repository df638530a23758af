/**
 * Prometheus metrics (prom-client): what this instance did, counted from its own delivery events, and
 * what the queues hold, read from Redis when scraped. Counters are per instance, as Prometheus expects
 * (sum them over instances); the queue gauges read shared state, so every instance reports the same
 * values (take max or one instance's, not the sum). docs/METRICS.md lists them with example queries.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DeliveryEvent, DeliveryEventKind, EventBus, Losses, QueueRecord } from '../core/index.js';
import type { CircuitStateName, ReplySender } from '../delivery/index.js';
import type { Alert } from './alerts.js';
import type { QueueStats } from './stats.js';

/** What a scrape reads about one queue. */
export interface QueueReading {
  queue: Pick<QueueRecord, 'topic' | 'name' | 'target'>;
  stats: QueueStats;
  /** WEBHOOK queues only. */
  circuit: CircuitStateName | null;
}

export interface MetricsOptions {
  /** This instance's delivery events (not those heard from other instances). */
  events: EventBus;
  /** Every queue's depths, lag and circuit, read at each scrape. */
  readQueues: () => Promise<QueueReading[]>;
  /** Whether Redis answers now. */
  redisUp: () => Promise<boolean>;
  /** The alerts firing now (alerts.ts). */
  firingAlerts: () => Promise<Alert[]>;
  /** Replies this instance dropped (request-reply): a second reply, a late one, one nobody heard. */
  replies?: Pick<ReplySender, 'onDropped'>;
  /** Messages accepted that reach no target without becoming dead letters (core/losses.ts). */
  losses?: Pick<Losses, 'on'>;
  /** Publish calls refused because their topic's routing moved on since they were routed (docs/SCALING.md). */
  publisher?: { onRoutingRefused(listener: (topic: string) => void): () => void };
  /**
   * Also export Node's process metrics (CPU, memory, event loop lag, GC): `process_*` and `nodejs_*`.
   * @default true
   */
  processMetrics?: boolean;
}

/** Outcome label of an attempt, by the event that ended it. */
const OUTCOMES: Partial<Record<DeliveryEventKind, string>> = {
  DELIVERED: 'delivered',
  RETRYING: 'retrying',
  FAILED: 'failed',
  DEAD_LETTERED: 'dead_lettered',
  EXPIRED: 'expired',
};

/** Publish-to-delivery latency buckets, in seconds: 1 ms to 5 minutes. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const CIRCUIT_STATES: readonly CircuitStateName[] = ['CLOSED', 'OPEN', 'HALF_OPEN'];
/**
 * prom-client's default gauges whose names end in `_total`, the counter suffix; each equals
 * `sum(<name without _total>)` over the gauge prom-client also exports by `type`.
 */
const MISNAMED_DEFAULT_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * Label children by their values, made once: every publish and delivery increments a counter, and
 * prom-client otherwise checks and hashes the label object on each increment.
 */
function childrenOf<T>(make: (...values: string[]) => T): (...values: string[]) => T {
  const children = new Map<string, T>();
  return (...values) => {
    const key = values.join('\u0000');
    let child = children.get(key);
    if (child === undefined) {
      child = make(...values);
      children.set(key, child);
    }
    return child;
  };
}

/**
 * The counters of what this instance did, fed by its delivery events, dropped replies and losses;
 * answers the function that stops feeding them.
 */
function countInstance(options: MetricsOptions, registers: Registry[]): () => void {
  const published = new Counter({
    name: 'switchyard_messages_published_total',
    help: 'Messages published through this instance (a duplicate idempotency key counts once).',
    labelNames: ['topic'] as const,
    registers,
  });
  const attempts = new Counter({
    name: 'switchyard_delivery_attempts_total',
    help: 'Delivery attempts ended on this instance, by outcome: delivered, retrying, failed, dead_lettered, expired.',
    labelNames: ['topic', 'queue', 'outcome'] as const,
    registers,
  });
  const failures = new Counter({
    name: 'switchyard_delivery_failures_total',
    help: 'Failed delivery attempts on this instance, by failure reason.',
    labelNames: ['topic', 'queue', 'reason'] as const,
    registers,
  });
  const deadLetterActions = new Counter({
    name: 'switchyard_dead_letter_actions_total',
    help: 'Dead letters replayed or discarded through this instance.',
    labelNames: ['topic', 'queue', 'action'] as const,
    registers,
  });
  const latency = new Histogram({
    name: 'switchyard_delivery_latency_seconds',
    help: 'From publish to delivery (webhook 2xx or consumer ack) on this instance, in seconds.',
    labelNames: ['topic', 'queue'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });

  const repliesDropped = new Counter({
    name: 'switchyard_replies_dropped_total',
    help: 'Replies to requests dropped on this instance, by reason: duplicate (another reply came first), late (the request had timed out or its gateway stopped), unheard (no gateway listened any more).',
    labelNames: ['reason'] as const,
    registers,
  });
  const stopCountingReplies = options.replies?.onDropped((reason) => repliesDropped.inc({ reason }));
  const notDelivered = new Counter({
    name: 'switchyard_messages_not_delivered_total',
    help: 'Messages accepted that reach no target and are no dead letter, on this instance, by reason: unrouted (the publish matched no queue), queue_deleted (undelivered when their queue was deleted), live_dropped (a live messages stream dropped them for a subscriber that read too slowly).',
    labelNames: ['topic', 'queue', 'reason'] as const,
    registers,
  });
  const stopCountingLosses = options.losses?.on(({ topic, queue, reason, count }) =>
    notDelivered.inc({ topic, queue: queue ?? '', reason }, count),
  );
  const routingRefusals = new Counter({
    name: 'switchyard_routing_refusals_total',
    help: "Publish calls through this instance refused, nothing written, because their topic's queues changed (on any instance) after they were routed; each is routed and sent again, up to 3 tries, then answers UNAVAILABLE (ROUTING_CHANGING).",
    labelNames: ['topic'] as const,
    registers,
  });
  const stopCountingRefusals = options.publisher?.onRoutingRefused((topic) => routingRefusals.inc({ topic }));

  const publishedIn = childrenOf((topic) => published.labels(topic));
  const attemptsOf = childrenOf((topic, queue, outcome) => attempts.labels(topic, queue, outcome));
  const failuresOf = childrenOf((topic, queue, reason) => failures.labels(topic, queue, reason));
  const latencyOf = childrenOf((topic, queue) => latency.labels(topic, queue));

  const stopCounting = options.events.on((event: DeliveryEvent) => {
    const queue = event.queue ?? '';
    switch (event.kind) {
      case 'PUBLISHED':
        publishedIn(event.topic).inc();
        return;
      case 'REPLAYED':
      case 'DISCARDED':
        deadLetterActions.inc({ topic: event.topic, queue, action: event.kind.toLowerCase() });
        return;
      default:
        break;
    }
    const outcome = OUTCOMES[event.kind];
    if (!outcome) return;
    attemptsOf(event.topic, queue, outcome).inc();
    if (event.kind !== 'DELIVERED') failuresOf(event.topic, queue, event.reason ?? 'UNKNOWN').inc();
    else if (event.latencyMs !== undefined)
      latencyOf(event.topic, queue).observe(Math.max(0, event.latencyMs) / 1000);
  });
  return () => {
    stopCounting();
    stopCountingReplies?.();
    stopCountingLosses?.();
    stopCountingRefusals?.();
  };
}

/** The gauges of what each queue holds, filled at each scrape from one read shared by all of them. */
function queueGauges(registers: Registry[], readOnce: () => Promise<QueueReading[]>): void {
  new Gauge({
    name: 'switchyard_queue_messages',
    help: 'Messages in a queue now, by state: waiting, active (delivering or received, not yet acked), delayed (incl. retries in backoff), dead_lettered.',
    labelNames: ['topic', 'queue', 'state'] as const,
    registers,
    async collect() {
      this.reset();
      for (const { queue, stats } of await readOnce()) {
        const labels = { topic: queue.topic, queue: queue.name };
        this.set({ ...labels, state: 'waiting' }, stats.waiting);
        this.set({ ...labels, state: 'active' }, stats.active);
        this.set({ ...labels, state: 'delayed' }, stats.delayed);
        this.set({ ...labels, state: 'dead_lettered' }, stats.deadLettered);
      }
    },
  });
  new Gauge({
    name: 'switchyard_queue_oldest_waiting_age_seconds',
    help: "A queue's lag: how long its oldest deliverable message has waited, in seconds (0 when none waits).",
    labelNames: ['topic', 'queue'] as const,
    registers,
    async collect() {
      this.reset();
      for (const { queue, stats } of await readOnce()) {
        this.set({ topic: queue.topic, queue: queue.name }, (stats.oldestWaitingAgeMs ?? 0) / 1000);
      }
    },
  });
  new Gauge({
    name: 'switchyard_queue_concurrency',
    help: "Deliveries this instance's worker for a webhook queue may run at once now: its fixed concurrency, or where its autoscaler stands within minConcurrency..maxConcurrency. Per instance: sum over instances.",
    labelNames: ['topic', 'queue'] as const,
    registers,
    async collect() {
      this.reset();
      for (const { queue, stats } of await readOnce()) {
        if (stats.concurrency !== null)
          this.set({ topic: queue.topic, queue: queue.name }, stats.concurrency);
      }
    },
  });
  new Gauge({
    name: 'switchyard_queue_paused',
    help: '1 while a queue is paused.',
    labelNames: ['topic', 'queue'] as const,
    registers,
    async collect() {
      this.reset();
      for (const { queue, stats } of await readOnce()) {
        this.set({ topic: queue.topic, queue: queue.name }, stats.paused ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'switchyard_circuit_state',
    help: "A webhook queue's circuit breaker: 1 for its current state (CLOSED, OPEN or HALF_OPEN), 0 for the others.",
    labelNames: ['topic', 'queue', 'state'] as const,
    registers,
    async collect() {
      this.reset();
      for (const reading of await readOnce()) {
        if (reading.circuit === null) continue;
        for (const state of CIRCUIT_STATES) {
          this.set(
            { topic: reading.queue.topic, queue: reading.queue.name, state },
            reading.circuit === state ? 1 : 0,
          );
        }
      }
    },
  });
}

/** The gauges of the gateway as a whole: alerts firing and whether Redis answers. */
function gatewayGauges(options: MetricsOptions, registers: Registry[]): void {
  new Gauge({
    name: 'switchyard_alerts_firing',
    help: 'Built-in alerts firing now (1 each), by kind (AlertKind) and queue.',
    labelNames: ['kind', 'topic', 'queue'] as const,
    registers,
    async collect() {
      this.reset();
      for (const alert of await options.firingAlerts())
        this.set({ kind: alert.kind, topic: alert.topic, queue: alert.queue }, 1);
    },
  });
  new Gauge({
    name: 'switchyard_redis_up',
    help: '1 when Redis answered a PING during this scrape.',
    registers,
    async collect() {
      this.set((await options.redisUp()) ? 1 : 0);
    },
  });
}

export function createMetrics(options: MetricsOptions) {
  const registry = new Registry();
  if (options.processMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    // prom-client names three of its gauges like counters, which `promtool check metrics` flags; each
    // is the sum of the gauge beside it (nodejs_active_handles{type} and so on), so drop them.
    for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  }
  const registers = [registry];
  const stopCounting = countInstance(options, registers);

  // The queue gauges are filled by one read of Redis per scrape, shared by all of them.
  let reading: Promise<QueueReading[]> | null = null;
  queueGauges(registers, () => {
    reading ??= options.readQueues().finally(() => {
      reading = null;
    });
    return reading;
  });
  gatewayGauges(options, registers);

  return {
    /** The exposition format's content type, for the HTTP answer. */
    contentType: registry.contentType,
    /** Every metric in Prometheus' text exposition format. */
    render: () => registry.metrics(),
    close(): void {
      stopCounting();
      registry.clear();
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
