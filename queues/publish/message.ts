import { hash, randomUUID } from 'node:crypto';
import type { MessageRecord, QueueRecord, TopicRecord } from '../core/index.js';
import {
  assertInt,
  assertString,
  badInput,
  ErrorCode,
  LIMITS,
  PRIORITY,
  parseHeaders,
  SwitchyardError,
} from '../core/index.js';
import { PARK_MS, type SerializedAdd } from '../redis/index.js';
import { canonicalize } from './canonical-json.js';
import type { PayloadSchemas } from './payload-schema.js';

export interface PublishInput {
  topic: string;
  payload: unknown;
  routingKey?: string | null;
  headers?: unknown;
  priority?: number | null;
  delayMs?: number | null;
  ttlMs?: number | null;
  correlationId?: string | null;
  replyTo?: string | null;
  idempotencyKey?: string | null;
  /** Messages of one key are delivered one at a time, in publish order, in each queue. */
  orderingKey?: string | null;
  /**
   * Who publishes: the API key's name, recorded in the message's provenance trail (null: keyless).
   * Set by the gateway from the caller, never taken from a client.
   */
  by?: string | null;
}

/** The job name every message carries in BullMQ (what bull-board shows). */
export const JOB_NAME = 'message';

/** The backoff type on every job: the workers' own strategy (queues/delivery/worker-options.ts) reads the queue's policy. */
export const BACKOFF_STRATEGY = 'switchyard';

/**
 * The BullMQ add of a message into one of its queues, with the job options every message job carries;
 * `data` is the message as its job stores it.
 */
export function messageAdd(
  queue: QueueRecord,
  message: MessageRecord,
  data: Buffer,
  timestamp: number,
  delayMs = 0,
): SerializedAdd {
  return {
    jobId: message.id,
    name: JOB_NAME,
    data,
    timestamp,
    attempts: queue.retry.maxAttempts,
    priority: toBullPriority(message.priority, queue.maxPriority),
    // A message with an ordering key waits parked until it heads its key's line (queues/redis/ordering.ts).
    delayMs: message.orderingKey === undefined ? delayMs : PARK_MS,
    backoffType: BACKOFF_STRATEGY,
  };
}

/**
 * A message's BullMQ priority in a queue that orders by priorities up to `maxPriority`. BullMQ takes
 * 1 as its highest and serves jobs without a priority before every prioritized one, so a priority
 * queue maps all of its levels, the default too, to 1..maxPriority + 1; a FIFO queue (maxPriority 0)
 * adds every job without one, to BullMQ's wait list, which is cheaper than its prioritized set.
 */
export const toBullPriority = (priority: number, maxPriority: number) =>
  maxPriority === 0 ? 0 : maxPriority + 1 - Math.min(priority, maxPriority);

/** Checks one publish against its topic and makes the message, with its id, hash and size. */
export function buildMessage(
  topic: TopicRecord,
  input: PublishInput,
  now: number,
  schemas: PayloadSchemas,
): MessageRecord {
  return checkAndBuild(topic, input, now, schemas).message;
}

let lastTime = { ms: Number.NaN, iso: '' };
/** `new Date(ms).toISOString()`, remembered for the last `ms`: every message of one call shares it. */
function isoTime(ms: number): string {
  if (ms !== lastTime.ms) lastTime = { ms, iso: new Date(ms).toISOString() };
  return lastTime.iso;
}

/** {@link buildMessage}, plus the canonical JSON of the payload it hashed. */
export function checkAndBuild(
  topic: TopicRecord,
  input: PublishInput,
  now: number,
  schemas: PayloadSchemas,
): { message: MessageRecord; canonicalPayload: string } {
  if (input.payload === undefined) throw badInput('payload is required', { field: 'payload' });
  const routingKey = input.routingKey ?? null;
  if (routingKey !== null && routingKey.length > LIMITS.routingKeyLength) {
    throw badInput(`routingKey is longer than ${LIMITS.routingKeyLength} characters`, {
      field: 'routingKey',
    });
  }
  const orderingKey = input.orderingKey ?? null;
  if (orderingKey !== null) assertString('orderingKey', orderingKey, LIMITS.orderingKeyLength);
  const headers = parseHeaders('headers', input.headers);
  const priority = input.priority ?? 0;
  assertInt('priority', priority, PRIORITY.min, PRIORITY.max);
  const delayMs = input.delayMs ?? 0;
  assertInt('delayMs', delayMs, 0, LIMITS.delayMs);
  const ttlMs = input.ttlMs ?? null;
  if (ttlMs !== null) {
    assertInt('ttlMs', ttlMs, 1, LIMITS.ttlMs);
    if (delayMs >= ttlMs)
      throw badInput('delayMs must be shorter than ttlMs, or the message could never be delivered');
  }
  for (const field of ['correlationId', 'replyTo', 'idempotencyKey'] as const) {
    const value = input[field];
    if (value != null) assertString(field, value);
  }
  // The message keeps the payload in the canonical order it was hashed in, so every copy of it (the
  // publish answer, live streams, the stored job, deliveries) serializes to the hashed bytes.
  // This text is measured, hashed and stored (queues/publish/message-json.ts), never serialized again.
  const { value: payload, json: canonical } = canonicalize(input.payload);
  const sizeBytes = Buffer.byteLength(canonical);
  if (sizeBytes > topic.maxMessageBytes) {
    throw new SwitchyardError(
      ErrorCode.PayloadTooLarge,
      `payload is ${sizeBytes} bytes; topic ${topic.name} takes at most ${topic.maxMessageBytes}`,
      { sizeBytes, maxMessageBytes: topic.maxMessageBytes },
    );
  }
  schemas.assertValid(topic, input.payload);
  const message: MessageRecord = {
    id: randomUUID(),
    topic: topic.name,
    routingKey,
    headers,
    payload,
    priority,
    correlationId: input.correlationId ?? null,
    replyTo: input.replyTo ?? null,
    idempotencyKey: input.idempotencyKey ?? null,
    publishedAt: isoTime(now),
    expiresAt: ttlMs === null ? null : new Date(now + ttlMs).toISOString(),
    sha256: hash('sha256', canonical, 'hex'),
    sizeBytes,
  };
  if (orderingKey !== null) message.orderingKey = orderingKey;
  // Kept in the stored message, after orderingKey (JSON order): its PUBLISHED trail entry is derived from it.
  if (input.by != null) message.by = input.by;
  return { message, canonicalPayload: canonical };
}
