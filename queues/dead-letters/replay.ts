import type { EventBus, MessageRecord, QueueRecord, TopicRecord } from '../core/index.js';
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
import { type InPlaceContext, type ReplayItem, replayInPlace } from './replay-in-place.js';
import { type IntoContext, replayInto } from './replay-into.js';
import { createReplayWatch, type ReplayWatch } from './replay-watch.js';

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
  /** Who asks: the API key's name, recorded in the message's trail (docs/PROVENANCE.md). @default null */
  by?: string | null;
}

/** Most dead letters one bulk replay takes. */
export const REPLAY_LIMIT_MAX = 100_000;
/** Jobs per MULTI in a bulk replay, and how many chunks may be read ahead while one is replayed. */
const CHUNK = 500;
const IN_FLIGHT = 3;

export interface DeadLetterReplayOptions {
  client: RedisClient;
  keys: Keys;
  registry: Registry;
  handles: QueueHandles;
  schemas: PayloadSchemas;
  query: DeadLetterQuery;
  events: EventBus;
  redact: Redact;
  /**
   * How long a replayed message's trail is kept after the replay, at least (docs/PROVENANCE.md#where-each-entry-lives-and-for-how-long).
   * @default TRAIL_RETENTION_MS (14 days)
   */
  trailRetentionMs?: number;
}

/** What the replay steps share. */
interface ReplayContext {
  options: DeadLetterReplayOptions;
  watch: ReplayWatch;
}

/** An expired message would expire again at once: a replay is an order to deliver it, so its TTL is lifted. */
const renewed = (message: MessageRecord, now: number): MessageRecord =>
  message.expiresAt !== null && Date.parse(message.expiresAt) <= now
    ? { ...message, expiresAt: null }
    : message;

const inPlace = (context: ReplayContext, by: string | null): InPlaceContext & IntoContext => ({
  watch: context.watch,
  keys: context.options.keys,
  trail: { by, retentionMs: context.options.trailRetentionMs },
  registry: context.options.registry,
});

/** What a bulk replay needs of each job: its message (to lift a passed TTL), its reason, its trail step. */
async function replayItems(
  options: DeadLetterReplayOptions,
  refs: readonly DeadLetterRef[],
  now: number,
): Promise<ReplayItem[]> {
  const { client, keys } = options;
  // One pipeline per topic on a Redis Cluster (a pipeline stays on one node).
  const read = await execGrouped(
    client,
    refs,
    (ref) => ref.topic,
    (pipeline, ref) => pipeline.hmget(keys.bull(ref.topic, ref.queue).job(ref.jobId), 'data', 'failedReason'),
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
      step: { action: 'REPLAYED', queue: ref.queue, message },
    });
  });
  return items;
}

function announce(events: EventBus, topic: string, queue: string, items: readonly ReplayItem[]): void {
  if (events.size === 0) return;
  const at = new Date().toISOString();
  for (const { messageId, reason } of items) {
    events.emit({ kind: 'REPLAYED', at, topic, queue, messageId, attempt: null, reason, error: null });
  }
}

/** The dead letter's message with a new payload, checked like a publish; its id and times kept. */
function edited(
  options: DeadLetterReplayOptions,
  topic: TopicRecord,
  record: DeadLetterRecord,
  payload: unknown,
  now: number,
): MessageRecord {
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
    options.schemas,
  );
  // Who published it and the payload it was published with stay: its PUBLISHED trail entry is derived from them.
  const publishedSha256 = message.publishedSha256 ?? message.sha256;
  return {
    ...rebuilt,
    id: message.id,
    publishedAt: message.publishedAt,
    expiresAt: message.expiresAt,
    ...(message.by === undefined ? {} : { by: message.by }),
    ...(publishedSha256 === rebuilt.sha256 ? {} : { publishedSha256 }),
  };
}

/** Replays one dead letter; NOT_FOUND when it is not one (any more), and then nothing changed. */
async function replayOne(
  context: ReplayContext,
  id: string,
  replayOptions: ReplayOptions,
): Promise<ReplayResult> {
  const { options } = context;
  const ref = parseDeadLetterId(id);
  const toQueue = replayOptions.toQueue ?? null;
  if (toQueue !== null) assertName('toQueue', toQueue);
  const [record] = await readDeadLetters(options.client, options.keys, [ref], options.redact);
  if (!record) throw deadLetterGone(id);
  const topic = await options.registry.requireTopic(ref.topic);
  const target: QueueRecord | null =
    toQueue !== null && toQueue !== ref.queue
      ? await options.registry.requireQueue(ref.topic, toQueue)
      : null;
  const now = Date.now();
  const original = record.message;
  const isEdit = replayOptions.payload !== undefined;
  const message = renewed(
    isEdit ? edited(options, topic, record, replayOptions.payload, now) : original,
    now,
  );
  const queue = target?.name ?? ref.queue;
  const action = isEdit ? 'EDITED' : target ? 'REPLAYED_TO_QUEUE' : 'REPLAYED';
  const item: ReplayItem = {
    jobId: ref.jobId,
    data: message === original ? '' : JSON.stringify(message),
    messageId: original.id,
    reason: record.reason,
    step: { action, queue, message },
  };
  const context_ = inPlace(context, replayOptions.by ?? null);
  if (target) await replayInto(context_, ref, topic, target, item.step);
  else if (!(await replayInPlace(context_, topic, ref.queue, [item])).has(ref.jobId))
    throw deadLetterGone(id);
  announce(options.events, ref.topic, queue, [item]);
  return { replayed: 1, failed: 0, ids: [id] };
}

/** Replays up to `limit` dead letters the filter selects, newest first, in chunks of one MULTI each. */
async function replayMany(
  context: ReplayContext,
  filter: DeadLetterFilter,
  limit: number,
  by: string | null,
): Promise<ReplayResult> {
  const { options } = context;
  assertInt('limit', limit, 1, REPLAY_LIMIT_MAX);
  const prepared = await options.query.prepare(filter);
  const { refs } = await prepared.select(null, limit);
  const now = Date.now();
  const chunks = byQueue(refs).flatMap((group) =>
    Array.from({ length: Math.ceil(group.length / CHUNK) }, (_, n) =>
      group.slice(n * CHUNK, (n + 1) * CHUNK),
    ),
  );
  const topics = new Map<string, Promise<TopicRecord>>();
  const done: string[][] = [];
  const replayChunk = async (index: number): Promise<void> => {
    const chunk = chunks[index] ?? [];
    const [first] = chunk;
    if (!first) return;
    const items = await replayItems(options, chunk, now);
    let topic = topics.get(first.topic);
    if (!topic) {
      topic = options.registry.requireTopic(first.topic);
      topics.set(first.topic, topic);
    }
    const replayed = await replayInPlace(inPlace(context, by), await topic, first.queue, items);
    const ok = items.filter((item) => replayed.has(item.jobId));
    announce(options.events, first.topic, first.queue, ok);
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
}

/**
 * Replaying dead letters, each with its provenance trail entry in the same MULTI (docs/PROVENANCE.md).
 * In its own queue a replay is BullMQ's reprocessJob (the same job, so the same message id, back to
 * waiting with its attempt counters reset), queued right after our release command: both check the
 * failed set, so either both act or neither does. Into another queue it is an add there and a removal
 * here. Both run under WATCH of the trails (and jobs) they touch, on a connection of their own.
 */
export function createDeadLetterReplay(options: DeadLetterReplayOptions) {
  const context: ReplayContext = { options, watch: createReplayWatch(options.client) };
  return {
    replay: (id: string, replayOptions: ReplayOptions = {}) => replayOne(context, id, replayOptions),
    replayMany: (filter: DeadLetterFilter, limit: number, by: string | null = null) =>
      replayMany(context, filter, limit, by),
    close: () => context.watch.close(),
  };
}

export type DeadLetterReplay = ReturnType<typeof createDeadLetterReplay>;
