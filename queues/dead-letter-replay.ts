import { Queue } from 'bullmq';
import type { ChainableCommander, Redis } from 'ioredis';
import { reasonOf } from './attempt-history.js';
import { addSerialized } from './bull-add.js';
import { defineCommands } from './commands/index.js';
import { answers, bullKeys, queueCommand, REASONS_ARG, STALLED_ARG } from './dead-letter-commands.js';
import { byQueue } from './dead-letter-discard.js';
import { type DeadLetterRef, deadLetterId, parseDeadLetterId } from './dead-letter-ids.js';
import type { DeadLetterFilter, DeadLetterQuery } from './dead-letter-query.js';
import { type DeadLetterRecord, readDeadLetters, toMessage } from './dead-letter-record.js';
import type { Redact } from './dead-letter-redaction.js';
import { conflict, notFound } from './errors.js';
import type { EventBus } from './events.js';
import type { Keys } from './keys.js';
import type { PayloadSchemas } from './payload-schema.js';
import { buildMessage, messageAdd } from './publisher.js';
import type { QueueHandles } from './queue-handles.js';
import type { Registry } from './registry.js';
import type { FailureReason, MessageRecord, QueueRecord } from './types.js';
import { assertInt, assertName } from './validate.js';

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
const MOVE_TRIES = 3;

export interface DeadLetterReplayOptions {
  client: Redis;
  keys: Keys;
  registry: Registry;
  handles: QueueHandles;
  schemas: PayloadSchemas;
  query: DeadLetterQuery;
  events: EventBus;
  redact: Redact;
}

interface Item {
  jobId: string;
  /** New job data, or '' to keep it. */
  data: string;
  messageId: string;
  reason: FailureReason | null;
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
  let exclusive: Promise<unknown> = Promise.resolve();
  let watcher: Promise<Redis> | null = null;

  /** Replays jobs of one queue where they are. Answers the job ids replayed. */
  async function replayInPlace(topic: string, queue: string, items: readonly Item[]): Promise<Set<string>> {
    const bull = handles.get(topic, queue);
    const keysOf = bullKeys(keys, topic, queue);
    const base = keys.deadLetters(topic).base;
    const transaction = (await bull.client).multi();
    const perJob = items.flatMap((item) => [item.jobId, item.data, item.reason ?? '']);
    queueCommand(
      transaction as unknown as ChainableCommander,
      'dead-letter-release-1',
      [keysOf.failed],
      [keysOf.jobPrefix, base, queue, REASONS_ARG, new Date().toISOString(), ...perJob],
    );
    for (const { jobId } of items) {
      bull.scripts.execCommand(transaction, 'reprocessJob', [
        bull.toKey(jobId),
        bull.keys.events,
        bull.toKey('failed'),
        bull.keys.wait,
        bull.keys.meta,
        bull.keys.paused,
        bull.keys.active,
        bull.keys.marker,
        jobId,
        'LPUSH',
        'failedReason',
        'failed',
        '1',
        '1',
      ]);
    }
    const [released, ...reprocessed] = answers(await transaction.exec()) as [number[], ...number[]];
    const replayed = new Set<string>();
    items.forEach((item, index) => {
      const count = Number(released[index]);
      const moved = Number(reprocessed[index]);
      if (count > 0 && moved !== 1) {
        throw new Error(`replay of ${item.jobId}: released but reprocessJob answered ${moved}`);
      }
      if (count > 0) replayed.add(item.jobId);
    });
    return replayed;
  }

  function watchConnection(): Promise<Redis> {
    watcher ??= (async () => {
      const connection = client.duplicate();
      connection.on('error', () => {});
      defineCommands(connection);
      await connection.connect();
      return connection;
    })();
    return watcher;
  }

  /** Moves a dead letter into another queue of its topic: added there, removed here, or neither. */
  async function replayInto(ref: DeadLetterRef, target: QueueRecord, message: MessageRecord): Promise<void> {
    const run = async () => {
      const connection = await watchConnection();
      // A BullMQ handle on the watching connection, so BullMQ's add script is defined on it.
      const into = new Queue(target.name, { connection, prefix: keys.bullPrefix(ref.topic) });
      into.on('error', () => {});
      try {
        const bullClient = await into.client;
        const from = bullKeys(keys, ref.topic, ref.queue);
        const to = bullKeys(keys, ref.topic, target.name);
        for (let attempt = 0; attempt < MOVE_TRIES; attempt++) {
          await connection.watch(from.job(ref.jobId), to.job(ref.jobId));
          const [score, taken, parent, replays, logs] = answers(
            await connection
              .pipeline()
              .zscore(from.failed, ref.jobId)
              .exists(to.job(ref.jobId))
              .hexists(from.job(ref.jobId), 'parentKey')
              .hget(from.job(ref.jobId), 'syReplays')
              .lrange(from.logs(ref.jobId), 0, -1)
              .exec(),
          );
          if (score === null || Number(parent) === 1 || Number(taken) === 1) {
            await connection.unwatch();
            if (score === null) throw gone(deadLetterId(ref));
            if (Number(parent) === 1) throw conflict(`Dead letter ${deadLetterId(ref)} belongs to a flow`);
            throw conflict(`Queue ${target.name} already holds message ${ref.jobId}`);
          }
          const count = Number(replays ?? 0) + 1;
          const transaction = bullClient.multi();
          const raw = transaction as unknown as ChainableCommander;
          // The same add as a publish's, under the dead letter's own job id (a job some other tool
          // put into the queue may carry another id in its data); its answer comes with EXEC's.
          const data = Buffer.from(JSON.stringify(message));
          addSerialized(into, raw, { ...messageAdd(target, message, data, Date.now()), jobId: ref.jobId });
          const marker = JSON.stringify({ replay: count, at: new Date().toISOString() });
          raw.rpush(to.logs(ref.jobId), ...(logs as string[]), marker);
          raw.call('HSET', to.job(ref.jobId), 'syReplays', count);
          queueCommand(
            raw,
            'dead-letter-discard-2',
            [from.failed, from.events],
            [
              from.jobPrefix,
              keys.deadLetters(ref.topic).base,
              ref.queue,
              REASONS_ARG,
              STALLED_ARG,
              '+inf',
              ref.jobId,
            ],
          );
          const results = await transaction.exec();
          if (results === null) continue;
          answers(results);
          return;
        }
        throw conflict(`Dead letter ${deadLetterId(ref)} kept changing during the replay; try again`);
      } finally {
        await into.close().catch(() => {});
      }
    };
    // One WATCH at a time on the connection: another EXEC there would silently drop ours.
    const result = exclusive.then(run, run);
    exclusive = result.catch(() => {});
    return result;
  }

  /** What a bulk replay needs of each job: its message (to lift a passed TTL) and its reason. */
  async function replayItems(refs: readonly DeadLetterRef[], now: number): Promise<Item[]> {
    const pipeline = client.pipeline();
    for (const ref of refs)
      pipeline.hmget(bullKeys(keys, ref.topic, ref.queue).job(ref.jobId), 'data', 'failedReason');
    const fields = answers((await pipeline.exec()) ?? []) as [string | null, string | null][];
    const items: Item[] = [];
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

  function announce(topic: string, queue: string, items: readonly Item[]): void {
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
      if (!record) throw gone(id);
      const target =
        toQueue !== null && toQueue !== ref.queue ? await registry.requireQueue(ref.topic, toQueue) : null;
      const now = Date.now();
      const original = record.message;
      const message = renewed(
        replayOptions.payload === undefined ? original : await edited(record, replayOptions.payload, now),
        now,
      );
      const item: Item = {
        jobId: ref.jobId,
        data: message === original ? '' : JSON.stringify(message),
        messageId: original.id,
        reason: record.reason,
      };
      if (target) await replayInto(ref, target, message);
      else if (!(await replayInPlace(ref.topic, ref.queue, [item])).has(ref.jobId)) throw gone(id);
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
        const replayed = await replayInPlace(first.topic, first.queue, items);
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

    async close(): Promise<void> {
      const connection = await watcher?.catch(() => null);
      watcher = null;
      await connection?.quit().catch(() => {});
    },
  };
}

const gone = (id: string) => notFound(`Dead letter ${id} does not exist (already replayed or discarded?)`);

export type DeadLetterReplay = ReturnType<typeof createDeadLetterReplay>;
