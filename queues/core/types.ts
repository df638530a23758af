/** The engine's own vocabulary. GraphQL enums mirror these strings one to one. */

export const TOPIC_KINDS = ['FANOUT', 'DIRECT', 'TOPIC', 'HEADERS'] as const;
export type TopicKind = (typeof TOPIC_KINDS)[number];

export const HEADER_MATCHES = ['ALL', 'ANY'] as const;
export type HeaderMatch = (typeof HEADER_MATCHES)[number];

export const TARGET_KINDS = ['WEBHOOK', 'CONSUMER'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

export const DELIVERY_MODES = ['AT_LEAST_ONCE', 'AT_MOST_ONCE', 'EXACTLY_ONCE'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];

export const BACKOFFS = ['FIXED', 'EXPONENTIAL'] as const;
export type BackoffKind = (typeof BACKOFFS)[number];

export const FAILURE_REASONS = [
  'VALIDATION',
  'PROCESSING',
  'TIMEOUT',
  'DEPENDENCY',
  'REJECTED',
  'EXPIRED',
  'CIRCUIT_OPEN',
  'UNKNOWN',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export type Headers = Record<string, string>;

export interface TopicRecord {
  name: string;
  kind: TopicKind;
  description: string | null;
  maxMessageBytes: number;
  /** A JSON Schema every payload must satisfy, or null. */
  payloadSchema: unknown;
  createdAt: string;
  /** The retained log of what is published to it; absent or null: it keeps none. */
  history?: TopicHistorySettings | null;
}

/** How much of a topic's publishes its history keeps; null: no limit of that kind (never both null). */
export interface TopicHistorySettings {
  maxAgeMs: number | null;
  maxMessages: number | null;
}

export interface RetryPolicy {
  maxAttempts: number;
  backoff: BackoffKind;
  delayMs: number;
  maxDelayMs: number;
  jitter: boolean;
}

export interface PreviousSigningSecret {
  secret: string;
  /** ISO time after which this secret no longer signs. */
  expiresAt: string;
}

export interface QueueRecord {
  name: string;
  topic: string;
  bindingKey: string | null;
  headers: Headers | null;
  headerMatch: HeaderMatch | null;
  target: TargetKind;
  url: string | null;
  signingSecret: string | null;
  /**
   * Secrets replaced by rotateSigningSecret that keep signing until they expire, so receivers can
   * switch over without dropping a delivery. Absent on queues never rotated.
   */
  previousSigningSecrets?: PreviousSigningSecret[];
  deliveryMode: DeliveryMode;
  retry: RetryPolicy;
  /**
   * WEBHOOK: deliveries in flight at once per gateway process: the fixed value, or, with a range, the
   * value each instance's worker starts at (always within the range).
   */
  concurrency: number;
  /**
   * WEBHOOK: with maxConcurrency, the range each instance's worker moves its concurrency in, by the
   * queue's backlog and lag (queues/delivery/autoscaler.ts). Both or neither; absent (never null) on a
   * queue of fixed concurrency, so such a record is what it was before ranges.
   */
  minConcurrency?: number;
  maxConcurrency?: number;
  ackTimeoutMs: number;
  /**
   * The highest priority the queue orders by; a message above it counts as this. 0 makes a FIFO queue,
   * whose adds skip BullMQ's prioritized set. Fixed at creation: jobs already waiting sit in the
   * structure their priority put them in. Records stored before it existed read as 9.
   */
  maxPriority: number;
  /**
   * The queue's own alert thresholds (queues/stats/alerts.ts); a field that is null, or the whole
   * object absent (records stored before it existed), falls back to the gateway's setting. 0 turns a kind off.
   */
  alerts?: QueueAlertThresholds;
  paused: boolean;
  createdAt: string;
}

/** Per-queue alert thresholds, as createQueue and updateQueue store them; null: the gateway's setting. */
export interface QueueAlertThresholds {
  /** Waiting messages at which QUEUE_DEPTH fires. */
  maxWaiting: number | null;
  /** Lag in ms at which QUEUE_LAG fires. */
  maxLagMs: number | null;
  /** P95 publish-to-delivered latency in ms over the alert window at which DELIVERY_LATENCY fires. */
  maxDeliveryLatencyMs: number | null;
  /** Failed attempts per attempt over the alert window, 0..1, at which FAILURE_RATE fires. */
  maxFailureRate: number | null;
  /** Attempts a message needed (within the alert window) at which RETRIES fires. */
  maxAttempts: number | null;
}

/** A message as stored in every BullMQ job it was routed to (the job's data). */
export interface MessageRecord {
  id: string;
  topic: string;
  routingKey: string | null;
  headers: Headers;
  payload: unknown;
  priority: number;
  correlationId: string | null;
  replyTo: string | null;
  idempotencyKey: string | null;
  publishedAt: string;
  expiresAt: string | null;
  sha256: string;
  sizeBytes: number;
  /**
   * Its ordering key (docs/PATTERNS.md#ordering-keys): messages of one key are delivered one at a
   * time, in publish order, in each queue. Absent (never null) on a message published without one,
   * so such a message's stored JSON is what it was before ordering keys.
   */
  orderingKey?: string;
  /** Its place (stream id) in the topic's history, on messages read from it or the live tail; absent otherwise. */
  cursor?: string;
  /**
   * Internal, never shown or sent to a receiver: the name of the API key that published it (absent
   * when keyless). Its trail's PUBLISHED entry is derived from this record (docs/PROVENANCE.md).
   */
  by?: string;
  /**
   * Internal: the sha256 it was published with, set when a replay edited its payload (absent
   * otherwise: it is `sha256`), so the derived PUBLISHED entry keeps the original payload's hash.
   */
  publishedSha256?: string;
}

/** One failed attempt, kept in order in the job's BullMQ log. */
export interface AttemptRecord {
  attempt: number;
  at: string;
  reason: FailureReason;
  error: string;
  durationMs: number | null;
}
