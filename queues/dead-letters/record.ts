import { createHash } from 'node:crypto';
import type { AttemptRecord, FailureReason, MessageRecord } from '../core/index.js';
import type { Redact } from '../delivery/index.js';
import { attemptsSinceReplay, parseAttemptLog, reasonOf } from '../delivery/index.js';
import { canonicalJson } from '../publish/index.js';
import type { Keys, RedisClient } from '../redis/index.js';
import { answers, execGrouped } from '../redis/index.js';
import { type DeadLetterRef, deadLetterId } from './ids.js';

/** A message whose delivery failed for good, as queries answer it. */
export interface DeadLetterRecord {
  /** `<topic>/<queue>/<messageId>`. */
  id: string;
  topic: string;
  queue: string;
  message: MessageRecord;
  reason: FailureReason;
  /** The last error, without the reason in front. */
  error: string;
  /** Attempts of the last round (since the last replay). */
  attempts: number;
  /** Every attempt, replayed rounds included, oldest first. */
  history: AttemptRecord[];
  failedAt: string;
  /** How often the message was replayed from the dead letters. */
  replayCount: number;
}

/** Job hash fields read for a dead letter (BullMQ's names, plus our replay counter), in this order. */
export const RECORD_FIELDS = ['data', 'failedReason', 'atm', 'timestamp', 'syReplays'] as const;

/** A dead letter as Redis holds it: its score in the failed set, the RECORD_FIELDS, its log lines. */
export interface RawDeadLetter {
  failedAt: string | number | null;
  fields: readonly (string | null)[];
  logs: readonly string[];
}

/**
 * A dead letter from what Redis holds, or null when its job is no longer in the failed set (replayed,
 * discarded or retried meanwhile). Errors are redacted again on the way out, so a record written before
 * redaction was configured (or by another tool) shows no secrets either.
 */
export function toRecord(ref: DeadLetterRef, raw: RawDeadLetter, redact: Redact): DeadLetterRecord | null {
  const [data, failedReason, attemptsMade, timestamp, replays] = raw.fields;
  if (raw.failedAt === null || data == null) return null;
  const reason = reasonOf(failedReason ?? undefined);
  const logs = [...raw.logs];
  return {
    id: deadLetterId(ref),
    topic: ref.topic,
    queue: ref.queue,
    message: toMessage(data, ref, Number(timestamp ?? raw.failedAt)),
    reason,
    error: redact(withoutReason(failedReason ?? '', reason)),
    attempts: Math.max(Number(attemptsMade ?? 0), attemptsSinceReplay(logs)),
    history: parseAttemptLog(logs).map((record) => ({ ...record, error: redact(record.error) })),
    failedAt: new Date(Number(raw.failedAt)).toISOString(),
    replayCount: Number(replays ?? 0),
  };
}

/** Reads dead letters in one pipeline; null for each ref that is not a dead letter (any more). */
export async function readDeadLetters(
  client: RedisClient,
  keys: Keys,
  refs: readonly DeadLetterRef[],
  redact: Redact,
): Promise<(DeadLetterRecord | null)[]> {
  if (refs.length === 0) return [];
  // One pipeline per topic on a Redis Cluster (its keys share one slot), one in all on one Redis.
  const read = await execGrouped(
    client,
    refs,
    (ref) => ref.topic,
    (pipeline, ref) => {
      const bull = keys.bull(ref.topic, ref.queue);
      pipeline.zscore(bull.failed, ref.jobId);
      pipeline.hmget(bull.job(ref.jobId), ...RECORD_FIELDS);
      pipeline.lrange(bull.logs(ref.jobId), 0, -1);
    },
  );
  const results = answers(read);
  return refs.map((ref, index) =>
    toRecord(
      ref,
      {
        failedAt: results[index * 3] as string | null,
        fields: results[index * 3 + 1] as (string | null)[],
        logs: results[index * 3 + 2] as string[],
      },
      redact,
    ),
  );
}

/** "REJECTED: HTTP 400" → "HTTP 400"; a failedReason we did not write stays whole. */
function withoutReason(failedReason: string, reason: FailureReason): string {
  const prefix = `${reason}: `;
  return failedReason.startsWith(prefix) ? failedReason.slice(prefix.length) : failedReason;
}

/**
 * The job's data as a message. Our jobs hold a MessageRecord; a job some other BullMQ tool put into
 * one of our queues is shown with its whole data as the payload, so the contract's non-null fields
 * always have a value.
 */
export function toMessage(data: string, ref: DeadLetterRef, addedAt: number): MessageRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    parsed = data;
  }
  const record = parsed as Partial<MessageRecord> | null;
  if (record && typeof record === 'object' && typeof record.id === 'string' && 'payload' in record) {
    return {
      id: record.id,
      topic: record.topic ?? ref.topic,
      routingKey: record.routingKey ?? null,
      headers: record.headers ?? {},
      payload: record.payload,
      priority: record.priority ?? 0,
      correlationId: record.correlationId ?? null,
      replyTo: record.replyTo ?? null,
      idempotencyKey: record.idempotencyKey ?? null,
      publishedAt: record.publishedAt ?? new Date(addedAt).toISOString(),
      expiresAt: record.expiresAt ?? null,
      sha256: record.sha256 ?? sha256(record.payload),
      sizeBytes: record.sizeBytes ?? Buffer.byteLength(canonicalJson(record.payload) ?? ''),
      // Kept through replays: the trail's PUBLISHED entry is derived from them (docs/PROVENANCE.md).
      ...(typeof record.by === 'string' ? { by: record.by } : {}),
      ...(typeof record.publishedSha256 === 'string' ? { publishedSha256: record.publishedSha256 } : {}),
    };
  }
  return {
    id: ref.jobId,
    topic: ref.topic,
    routingKey: null,
    headers: {},
    payload: parsed,
    priority: 0,
    correlationId: null,
    replyTo: null,
    idempotencyKey: null,
    publishedAt: new Date(Number.isFinite(addedAt) ? addedAt : 0).toISOString(),
    expiresAt: null,
    sha256: sha256(parsed),
    sizeBytes: Buffer.byteLength(canonicalJson(parsed) ?? ''),
  };
}

const sha256 = (value: unknown) =>
  createHash('sha256')
    .update(canonicalJson(value) ?? '')
    .digest('hex');
