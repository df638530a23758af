import type { EventBus, MessageRecord } from '../core/index.js';
import { assertInt, assertName } from '../core/index.js';
import type { Redact } from '../delivery/index.js';
import { reasonOf } from '../delivery/index.js';
import type { PayloadSchemas } from '../publish/index.js';
import { buildMessage } from '../publish/index.js';
import type { Keys, QueueHandles, RedisClient } from '../redis/index.js';
import { answers, execGrouped } from '../redis/index.js';
import type { Registry } from '../registry/index.js';
import { byQueue } from './discard.js';
import { type DeadLetterRef, deadLetterGone, deadLetterId, parseDeadLetterId } from './ids.js';
import type { DeadLetterFilter, DeadLetterQuery } from './query.js';
import { type DeadLetterRecord, readDeadLetters, toMessage } from './record.js';
import { type ReplayItem, replayInPlace } from './replay-in-place.js';
import { createReplayInto } from './replay-into.js';

export interface ReplayResult {
  replayed: number;
  /** Selected by a bulk replay but gone (replayed, discarded or retried elsewhere) by the time it ran. */
  failed: number;
  /** The ids of the dead letters replayed. */
  ids: string[];
  /**
   * The webhook queues replayed into whose circuit breaker was OPEN: their first replayed message
   * goes out at once as the probe, and the rest follow when it succeeds (set by the engine).
   */
  probedQueues?: string[];
}

export interface ReplayOptions {
  /** A new payload, checked against the topic's schema and size limit like a publish. */
  payload?: unknown;
  /** Another queue of the same topic to deliver the message to instead. */
  toQueue?: string | null;
}

/** Most dead letters one bulk replay takes. */
export const REPLAY_LIMIT_MAX = 100_000;
/** Jobs per MULTI in a bulk replay, and how many such MULTIs may be in flight at once. */
const CHUNK = 500;
const IN_FLIGHT = 3;
/** A replay into another queue retries this often when its WATCH is broken by a concurrent change. */

export interface DeadLetterReplayOptions {
  client: RedisClient;
  keys: Keys;
  registry: Registry;
  handles: QueueHandles;
  schemas: PayloadSchemas;
  query: DeadLetterQuery;
  events: EventBus;
  redact: Redact;
}

/** An expired message would expire again at once: a replay is an order to deliver it, so its TTL is lifted. */
const renewed = (message: MessageRecord, now: number): MessageRecord =>
  message.expiresAt !== null && Date.parse(message.expiresAt) <= now
    ? { ...message, expiresAt: null }
    : message;

/**
 * Replaying dead letters. In its own queue a replay is BullMQ's reprocessJob (the same job, so the
 * same message id, back to waiting with its attempt counters reset), queued in one MULTI right after
 * our release command: both check the failed set, so either both act or neither does. Into another
 * queue it is an add there and a removal here in one MULTI under WATCH, on a connection of its own.
 */
export function createDeadLetterReplay(options: DeadLetterReplayOptions) {
  const { client, keys, registry, handles, schemas, query, events, redact } = options;
  const into = createReplayInto(client, keys);

  /** What a bulk replay needs of each job: its message (to lift a passed TTL) and its reason. */
  async function replayItems(refs: readonly DeadLetterRef[], now: number): Promise<ReplayItem[]> {
    // One pipeline per topic on a Redis Cluster (a pipeline stays on one node).
    const read = await execGrouped(
      client,
      refs,
      (ref) => ref.topic,
      (pipeline, ref) =>
        pipeline.hmget(keys.bull(ref.topic, ref.queue).job(ref.jobId), 'data', 'failedReason'),
    );
    const fields = answers(read) as [string | null, string | null][];
    const items: ReplayItem[] = [];
    refs.forEach((ref, index) => {
      const [data, failedReason] = fields[index] ?? [null, null];
      if (data === null) return;
      const original = toMessage(data, ref, now);
      const message = renewed(original, now);
      items.push({
        jobId: ref.jobId,
        data: message === original ? '' : JSON.stringify(message),
        messageId: original.id,
        reason: reasonOf(failedReason ?? undefined),
      });
    });
    return items;
  }

  function announce(topic: string, queue: string, items: readonly ReplayItem[]): void {
    if (events.size === 0) return;
    const at = new Date().toISOString();
    for (const { messageId, reason } of items) {
      events.emit({ kind: 'REPLAYED', at, topic, queue, messageId, attempt: null, reason, error: null });
    }
  }

  async function edited(record: DeadLetterRecord, payload: unknown, now: number): Promise<MessageRecord> {
    const topic = await registry.requireTopic(record.topic);
    const { message } = record;
    const rebuilt = buildMessage(
      topic,
      {
        topic: topic.name,
        payload,
        routingKey: message.routingKey,
        headers: message.headers,
        priority: message.priority,
        correlationId: message.correlationId,
        replyTo: message.replyTo,
        idempotencyKey: message.idempotencyKey,
      },
      now,
      schemas,
    );
    return { ...rebuilt, id: message.id, publishedAt: message.publishedAt, expiresAt: message.expiresAt };
  }

  return {
    /** Replays one dead letter; NOT_FOUND when it is not one (any more), and then nothing changed. */
    async replay(id: string, replayOptions: ReplayOptions = {}): Promise<ReplayResult> {
      const ref = parseDeadLetterId(id);
      const toQueue = replayOptions.toQueue ?? null;
      if (toQueue !== null) assertName('toQueue', toQueue);
      const [record] = await readDeadLetters(client, keys, [ref], redact);
      if (!record) throw deadLetterGone(id);
      const target =
        toQueue !== null && toQueue !== ref.queue ? await registry.requireQueue(ref.topic, toQueue) : null;
      const now = Date.now();
      const original = record.message;
      const message = renewed(
        replayOptions.payload === undefined ? original : await edited(record, replayOptions.payload, now),
        now,
      );
      const item: ReplayItem = {
        jobId: ref.jobId,
        data: message === original ? '' : JSON.stringify(message),
        messageId: original.id,
        reason: record.reason,
      };
      if (target) await into.replayInto(ref, target, message);
      else if (!(await replayInPlace(handles, keys, ref.topic, ref.queue, [item])).has(ref.jobId))
        throw deadLetterGone(id);
      announce(ref.topic, target?.name ?? ref.queue, [item]);
      return { replayed: 1, failed: 0, ids: [id] };
    },

    /** Replays up to `limit` dead letters the filter selects, newest first, in chunks of one MULTI each. */
    async replayMany(filter: DeadLetterFilter, limit: number): Promise<ReplayResult> {
      assertInt('limit', limit, 1, REPLAY_LIMIT_MAX);
      const prepared = await query.prepare(filter);
      const { refs } = await prepared.select(null, limit);
      const now = Date.now();
      const chunks = byQueue(refs).flatMap((group) =>
        Array.from({ length: Math.ceil(group.length / CHUNK) }, (_, n) =>
          group.slice(n * CHUNK, (n + 1) * CHUNK),
        ),
      );
      const done: string[][] = [];
      const replayChunk = async (index: number): Promise<void> => {
        const chunk = chunks[index] ?? [];
        const [first] = chunk;
        if (!first) return;
        const items = await replayItems(chunk, now);
        const replayed = await replayInPlace(handles, keys, first.topic, first.queue, items);
        const ok = items.filter((item) => replayed.has(item.jobId));
        announce(first.topic, first.queue, ok);
        done[index] = ok.map((item) => deadLetterId({ ...first, jobId: item.jobId }));
      };
      // A few chunks in flight, so reading the next one overlaps Redis running the current MULTI.
      let next = 0;
      const lane = async () => {
        while (next < chunks.length) await replayChunk(next++);
      };
      await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, chunks.length) }, lane));
      const ids = done.flat();
      return { replayed: ids.length, failed: refs.length - ids.length, ids };
    },

    close: into.close,
  };
}

export type DeadLetterReplay = ReturnType<typeof createDeadLetterReplay>;
