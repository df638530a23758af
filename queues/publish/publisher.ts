import type { MessageRecord, QueueRecord, TopicHistorySettings } from '../core/index.js';
import { badInput, ENGINE_DEFAULTS, ErrorCode, SwitchyardError } from '../core/index.js';
import type {
  Commands,
  GroupCommit,
  Keys,
  OrderedJob,
  Ordering,
  QueueHandles,
  RedisClient,
} from '../redis/index.js';
import { createGroupCommit, type PublishCommit, RoutingMovedError } from '../redis/index.js';
import type { Registry, TopicRouting } from '../registry/index.js';
import { claimKeys, hasIdempotencyKeys, NO_DUPLICATES, releaseKeys } from './claims.js';
import { checkAndBuild, messageAdd, type PublishInput } from './message.js';
import { messageJsons } from './message-json.js';
import { outcomeUnknown, wasStored } from './outcome.js';
import type { PayloadSchemas } from './payload-schema.js';

export type { PublishInput } from './message.js';
export { buildMessage, messageAdd } from './message.js';

/** Where the live streams' PUBLISHes of a message go, sent only if the message is stored. */
export interface LiveWrites {
  /**
   * `withCursor`: `message` is the message's JSON object, and when its topic keeps a history the
   * stream id the message got there is added to it as `cursor` (in the same Redis call).
   */
  publish(channel: string, message: string, withCursor?: boolean): void;
}

export interface PublishResult {
  messageId: string;
  duplicate: boolean;
  routedTo: string[];
  message: MessageRecord | null;
}

export interface PublisherOptions {
  client: RedisClient;
  keys: Keys;
  registry: Registry;
  handles: QueueHandles;
  schemas: PayloadSchemas;
  commands: Commands;
  /** How long an idempotency key is remembered. @default 24 h (set by the server config) */
  dedupWindowMs: number;
  /**
   * The most messages one publishBatch takes; a larger batch is refused whole with BAD_USER_INPUT.
   * @default 1000
   */
  maxBatchSize?: number;
  /**
   * Redis is a Redis Cluster: each `publish-commit` call then holds one topic's writes (a topic's keys
   * share the hash tag `{t:<topic>}`, so one slot), and a publishBatch must stay within one topic
   * (docs/SCALING.md#publishbatch-on-a-cluster).
   * @default false
   */
  cluster?: boolean;
  /**
   * Test seam for fault injection: runs just before a publish's writes are sent, and may throw.
   * Production code never sets it.
   */
  beforeExec?: () => void;
  /**
   * Adds the live-stream PUBLISHes of a message (queues/live/events.ts) to its writes, so a
   * `messages` subscriber sees a message if and only if it was stored, with no extra round trip.
   * @default none: nothing is published live
   */
  live?: { append(writes: LiveWrites, message: MessageRecord): void };
  /**
   * Lines up messages with an ordering key once stored (queues/redis/ordering.ts).
   * @default none: a message with an ordering key is refused with UNAVAILABLE
   */
  ordering?: Ordering;
}

/** How many messages one publishBatch takes unless the engine is told otherwise. */
export const DEFAULT_MAX_BATCH_SIZE = ENGINE_DEFAULTS.maxBatchSize;

/**
 * How many times a publish is routed and sent when its topic's routing keeps moving on between the
 * two (another instance changing the topic's queues); then it answers UNAVAILABLE, nothing written.
 */
export const ROUTING_TRIES = 3;

/** Each topic's routing a publish call routes with, by topic name (Registry.routingOf). */
type Routing = ReadonlyMap<string, TopicRouting>;

interface Routed {
  message: MessageRecord;
  queues: QueueRecord[];
  delayMs: number;
  timestamp: number;
  /** The topic's history settings; null when it keeps none. */
  history: TopicHistorySettings | null;
}

interface Draft extends Routed {
  /** The canonical JSON of the payload, as measured and hashed; '' once encoded into `json`. */
  canonicalPayload: string;
  /** Empty until the call's messages are encoded (prepareAll). */
  json: Buffer;
}

/** A draft's `json` before it is encoded. */
const NOT_ENCODED = Buffer.alloc(0);

/**
 * A message ready for its transaction. It no longer holds the canonical text, only the bytes made
 * of it: a batch waits for Redis long enough to outlive a scavenge or two, and every string it
 * still holds then is copied and promoted (in scenario 2 of the bench, ~20 % of the gateway's time
 * was garbage collection, most of it promoting what in-flight batches held).
 */
interface Prepared extends Routed {
  /** The message as its jobs store it, encoded once for every queue it goes to. */
  json: Buffer;
}

/**
 * On a Redis Cluster a batch is one transaction only within one slot, and a topic is the unit we
 * keep in one slot: a batch over several topics could not stay all or nothing, so it is refused
 * whole rather than half-applied.
 */
function refuseSpanningTopics(inputs: PublishInput[]): void {
  const first = inputs[0]?.topic;
  const other = inputs.find((input) => input.topic !== first);
  if (other) {
    throw badInput(
      `On a Redis Cluster a publishBatch must stay within one topic, so that it stays all or nothing: got ${first} and ${other.topic}; send one batch per topic`,
      { field: 'inputs' },
    );
  }
}

/** What the publish path's steps share: the options, and the group commit its writes go through. */
interface PublishPath {
  options: PublisherOptions;
  commits: GroupCommit;
  /** Told of each topic whose routing version refused a publish call (metrics count them). */
  routingRefusals: Set<(topic: string) => void>;
}

function prepare(path: PublishPath, routing: Routing, input: PublishInput, now: number): Draft {
  const routed = routing.get(input.topic);
  if (!routed) throw new SwitchyardError(ErrorCode.NotFound, `Topic ${input.topic} does not exist`);
  const { topic } = routed;
  const { message, canonicalPayload } = checkAndBuild(topic, input, now, path.options.schemas);
  const queues = routed.route(message.routingKey, message.headers);
  if (message.orderingKey !== undefined && !path.options.ordering) {
    throw new SwitchyardError(ErrorCode.Unavailable, 'This engine keeps no ordering keys');
  }
  const exactlyOnce = queues.find((queue) => queue.deliveryMode === 'EXACTLY_ONCE');
  if (exactlyOnce && message.idempotencyKey === null) {
    throw badInput(`Queue ${exactlyOnce.name} is EXACTLY_ONCE: publish with an idempotencyKey`, {
      field: 'idempotencyKey',
    });
  }
  return {
    message,
    canonicalPayload,
    queues,
    delayMs: input.delayMs ?? 0,
    timestamp: now,
    history: topic.history ?? null,
    json: NOT_ENCODED,
  };
}

/** The history write and the live PUBLISHes of a stored message (the cursor comes from the former). */
function historyAndLive(options: PublisherOptions, commit: PublishCommit, prepared: Prepared): void {
  const { message } = prepared;
  if (prepared.history === null) {
    options.live?.append(commit, message);
    return;
  }
  // In the same call as the adds: in the history iff the publish is applied (publish-commit).
  const { maxMessages, maxAgeMs } = prepared.history;
  const write = commit.history(
    {
      key: options.keys.topicHistory(message.topic),
      ids: options.keys.topicHistoryIds(message.topic),
      messageId: message.id,
    },
    prepared.json,
    maxMessages,
    maxAgeMs,
  );
  options.live?.append(
    {
      publish: (channel, text, withCursor) =>
        withCursor ? commit.publishWithCursor(write, channel, text) : commit.publish(channel, text),
    },
    message,
  );
}

function enqueue(options: PublisherOptions, commit: PublishCommit, prepared: Prepared): void {
  const { keys, handles } = options;
  const { message, queues } = prepared;
  for (const queue of queues) {
    const add = messageAdd(queue, message, prepared.json, prepared.timestamp, prepared.delayMs);
    commit.add(handles.get(queue.topic, queue.name), add);
    // Recorded with the add, so a message stored but never lined up (the gateway died between the
    // two calls) is found and lined up by the sweep (queues/redis/ordering.ts).
    if (message.orderingKey !== undefined) {
      const pending = keys.ordering(queue.topic, queue.name).pending;
      commit.hincrby(pending, message.id, prepared.timestamp + prepared.delayMs);
    }
  }
  historyAndLive(options, commit, prepared);
  if (message.idempotencyKey !== null) {
    const key = keys.idempotency(message.topic, message.idempotencyKey);
    // A resent call (its answer lost) that ran already has set this key to the message id: not again.
    commit.appliedIf(key, message.id);
    commit.set(key, message.id, options.dedupWindowMs);
  }
}

/** One HINCRBY per topic and counter for a whole batch, not one per message. */
function countPublished(keys: Keys, commit: PublishCommit, fresh: Prepared[]): void {
  const [only] = fresh;
  if (fresh.length === 1 && only) {
    // A single publish, most calls: its counts without the map below.
    const stats = keys.topicStats(only.message.topic);
    commit.hincrby(stats, 'published', 1);
    if (only.queues.length === 0) commit.hincrby(stats, 'unrouted', 1);
    return;
  }
  const counts = new Map<string, { published: number; unrouted: number }>();
  for (const { message, queues } of fresh) {
    let count = counts.get(message.topic);
    if (!count) {
      count = { published: 0, unrouted: 0 };
      counts.set(message.topic, count);
    }
    count.published++;
    if (queues.length === 0) count.unrouted++;
  }
  for (const [topic, { published, unrouted }] of counts) {
    const stats = keys.topicStats(topic);
    commit.hincrby(stats, 'published', published);
    if (unrouted > 0) commit.hincrby(stats, 'unrouted', unrouted);
  }
}

/** Checks, routes and encodes every input; the drafts, and their canonical texts, die here. */
function prepareAll(path: PublishPath, routing: Routing, inputs: PublishInput[], now: number): Prepared[] {
  const drafts = inputs.map((input, index) => {
    try {
      return prepare(path, routing, input, now);
    } catch (error) {
      if (inputs.length > 1 && error instanceof SwitchyardError) {
        throw new SwitchyardError(error.code, `inputs[${index}]: ${error.message}`, {
          ...error.details,
          index,
        });
      }
      throw error;
    }
  });
  // Every message of the call encoded into one buffer.
  const jsons = messageJsons(drafts);
  // Each draft becomes its prepared message in place (one object per message, not two), its
  // canonical text let go.
  for (const [index, draft] of drafts.entries()) {
    draft.json = jsons[index] as Buffer;
    draft.canonicalPayload = '';
  }
  return drafts;
}

/**
 * Puts the stored messages with an ordering key into their keys' lines, in publish order, before
 * the publish answers: a client that publishes one message after another gets them in that order.
 */
async function lineUp(options: PublisherOptions, fresh: Prepared[]): Promise<void> {
  const ordered: OrderedJob[] = [];
  for (const { message, queues } of fresh) {
    if (message.orderingKey === undefined) continue;
    for (const queue of queues) {
      ordered.push({
        topic: queue.topic,
        queue: queue.name,
        orderingKey: message.orderingKey,
        jobId: message.id,
      });
    }
  }
  if (ordered.length === 0) return;
  // The messages are stored, so the publish answers as stored whatever happens here: one left
  // pending is lined up by the sweep (queues/redis/ordering.ts) within its grace time.
  await options.ordering?.enqueue(ordered).catch(() => {});
}

/**
 * One group-commit entry for the fresh messages of a call: all of them stored, or none, and none
 * unless every topic they go to still has the routing version they were routed with. Its failures
 * are storeAndAnswer's to sort out.
 */
function commitFresh(path: PublishPath, routing: Routing, fresh: Prepared[]): Promise<void> {
  const { options } = path;
  let adds = 0;
  for (const { queues } of fresh) adds += queues.length;
  return path.commits.commit(
    (commit) => {
      // One check per topic of the call (PublishCommit keeps one per key and version).
      let last = '';
      for (const { message } of fresh) {
        if (message.topic === last) continue;
        last = message.topic;
        const { version } = routing.get(last) as TopicRouting;
        commit.routedAt(options.keys.topicRouting(last), last, version);
      }
      for (const item of fresh) enqueue(options, commit, item);
      countPublished(options.keys, commit, fresh);
    },
    Math.max(adds, 1),
    // One topic per call on a cluster (refuseSpanningTopics), so its tag names the call's slot.
    options.cluster ? (fresh[0] as Prepared).message.topic : '',
  );
}

/** Stores the messages of a call that are not duplicates, lines up those with ordering keys, and answers each. */
async function storeAndAnswer(
  path: PublishPath,
  routing: Routing,
  prepared: Prepared[],
  duplicates: ReadonlyMap<number, string>,
): Promise<PublishResult[]> {
  const { options } = path;
  const fresh = duplicates.size === 0 ? prepared : prepared.filter((_, index) => !duplicates.has(index));
  if (fresh.length > 0) {
    try {
      await commitFresh(path, routing, fresh);
    } catch (error) {
      // An answer lost on the way back: say what Redis did, never an error for a stored publish.
      if (!(outcomeUnknown(error) && (await wasStored(options.client, options.keys, fresh)))) {
        await releaseKeys(options, fresh);
        throw error;
      }
    }
    if (fresh.some(({ message }) => message.orderingKey !== undefined)) await lineUp(options, fresh);
  }
  return prepared.map(({ message, queues }, index) => {
    const earlier = duplicates.get(index);
    return earlier !== undefined
      ? { messageId: earlier, duplicate: true, routedTo: [], message: null }
      : { messageId: message.id, duplicate: false, routedTo: queues.map((queue) => queue.name), message };
  });
}

/**
 * One try of a publish call, with the routing given. Not an async function, and the claim step only
 * for a call with idempotency keys: each async frame and await is a promise and microtask turns more
 * on every publish (docs/PERFORMANCE.md). A refusal thrown while preparing reaches the caller's
 * `await` as a rejection would.
 */
function publishRouted(
  path: PublishPath,
  routing: Routing,
  inputs: PublishInput[],
): Promise<PublishResult[]> {
  const prepared = prepareAll(path, routing, inputs, Date.now());
  if (!hasIdempotencyKeys(prepared)) return storeAndAnswer(path, routing, prepared, NO_DUPLICATES);
  return claimKeys(path.options, prepared).then((duplicates) =>
    storeAndAnswer(path, routing, prepared, duplicates),
  );
}

/**
 * Routes and sends a publish call; when publish-commit refuses it because a topic's routing moved on
 * since it was routed (another instance changed the topic's queues, its announcement still on the
 * way), nothing of it was written and its idempotency keys were released: the topic's routing is
 * read again and the call routed and sent again, at most {@link ROUTING_TRIES} times in all.
 */
async function publishMany(path: PublishPath, inputs: PublishInput[]): Promise<PublishResult[]> {
  const { options } = path;
  if (options.cluster) refuseSpanningTopics(inputs);
  const topics = inputs.map((input) => input.topic);
  for (let tries = 1; ; tries++) {
    // Known topics' routings without a promise (nearly every publish); routingOf reads the others.
    const routing = options.registry.routingKnown(topics) ?? (await options.registry.routingOf(topics));
    try {
      return await publishRouted(path, routing, inputs);
    } catch (error) {
      if (!(error instanceof RoutingMovedError)) throw error;
      for (const topic of error.topics) {
        const routed = routing.get(topic);
        if (routed) options.registry.routingMoved(topic, routed.version);
        for (const listener of path.routingRefusals) listener(topic);
      }
      if (tries >= ROUTING_TRIES) {
        throw new SwitchyardError(
          ErrorCode.Unavailable,
          `The routing of ${error.topics.join(', ')} changed while this publish was sent, ${tries} times in a row; nothing was written: retry`,
          { reason: 'ROUTING_CHANGING', topics: error.topics },
        );
      }
    }
  }
}

const onlyResult = (results: PublishResult[]): PublishResult => results[0] as PublishResult;

/**
 * The publish path: check, hash, route, then one `publish-commit` call that puts the message into
 * every matching BullMQ queue (with BullMQ's own add commands) and counts it, so a publish reaches all
 * its queues or none. Its provenance trail's PUBLISHED entry is derived from the message it stores
 * (docs/PROVENANCE.md): a publish writes no trail key.
 */
export function createPublisher(options: PublisherOptions) {
  const commits = createGroupCommit({
    run: (keys, args) => options.commands.run('publish-commit-n', keys, args),
    beforeExec: options.beforeExec,
  });
  const path: PublishPath = { options, commits, routingRefusals: new Set() };
  return {
    /**
     * Calls back with the topic each time publish-commit refuses a publish call because the topic's
     * routing moved on since it was routed (the call is then routed and sent again, or answers
     * UNAVAILABLE after its last try). Answers the function that stops it.
     */
    onRoutingRefused(listener: (topic: string) => void): () => void {
      path.routingRefusals.add(listener);
      return () => path.routingRefusals.delete(listener);
    },
    publish(input: PublishInput): Promise<PublishResult> {
      // A then rather than an async function: one promise less per publish.
      return publishMany(path, [input]).then(onlyResult);
    },
    publishBatch(inputs: PublishInput[]): Promise<PublishResult[]> {
      const max = options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
      if (inputs.length > max) {
        return Promise.reject(
          badInput(`publishBatch takes at most ${max} messages, got ${inputs.length}`, {
            field: 'inputs',
            maxBatchSize: max,
          }),
        );
      }
      return publishMany(path, inputs);
    },
  };
}

export type Publisher = ReturnType<typeof createPublisher>;
