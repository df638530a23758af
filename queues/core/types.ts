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
  concurrency: number;
  ackTimeoutMs: number;
  /**
   * The highest priority the queue orders by; a message above it counts as this. 0 makes a FIFO queue,
   * whose adds skip BullMQ's prioritized set. Fixed at creation: jobs already waiting sit in the
   * structure their priority put them in. Records stored before it existed read as 9.
   */
  maxPriority: number;
  paused: boolean;
  createdAt: string;
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
}

/** One failed attempt, kept in order in the job's BullMQ log. */
export interface AttemptRecord {
  attempt: number;
  at: string;
  reason: FailureReason;
  error: string;
  durationMs: number | null;
}
