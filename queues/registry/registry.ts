import {
  assertInt,
  assertName,
  badInput,
  conflict,
  LIMITS,
  notFound,
  QUEUE_DEFAULTS,
  type QueueRecord,
  TARGET_KINDS,
  type TargetKind,
  TOPIC_KINDS,
  type TopicHistorySettings,
  type TopicKind,
  type TopicRecord,
} from '../core/index.js';
import type { Commands, Keys, RedisClient } from '../redis/index.js';
import { defineCommands } from '../redis/index.js';
import { generateSigningSecret, rotateSecrets } from '../signing/index.js';
import { applySettings, type QueueSettingsInput } from './queue-settings.js';
import type { RoutingTable } from './router.js';
import type { RegistryChange } from './routing-cache.js';
import { createRoutingCache } from './routing-cache.js';
import { parseQueue } from './topic-routing.js';

export type { RegistryChange } from './routing-cache.js';

export type { RoutingTable };

export interface CreateTopicInput {
  name: string;
  kind: TopicKind;
  description?: string | null;
  maxMessageBytes?: number | null;
  payloadSchema?: unknown;
  /** Keep a history of what is published (at least one limit); null or absent: none. */
  history?: { maxAgeMs?: number | null; maxMessages?: number | null } | null;
}

/** A topic's history settings, checked: positive integers within LIMITS, at least one of them set. */
function historySettings(input: CreateTopicInput['history']): TopicHistorySettings | null {
  if (input == null) return null;
  const maxAgeMs = input.maxAgeMs ?? null;
  const maxMessages = input.maxMessages ?? null;
  if (maxAgeMs === null && maxMessages === null) {
    throw badInput('history needs maxAgeMs, maxMessages or both: an unbounded history is refused', {
      field: 'history',
    });
  }
  if (maxAgeMs !== null) assertInt('history.maxAgeMs', maxAgeMs, 1, LIMITS.historyMaxAgeMs);
  if (maxMessages !== null) assertInt('history.maxMessages', maxMessages, 1, LIMITS.historyMaxMessages);
  return { maxAgeMs, maxMessages };
}

export type { QueueSettingsInput };

export interface CreateQueueInput extends QueueSettingsInput {
  topic: string;
  name: string;
  target: TargetKind;
  /** Fixed at creation (QueueRecord.maxPriority), so not a setting. */
  maxPriority?: number | null;
}

export interface RegistryOptions {
  /** Commands client; the registry defines its Lua commands on it. */
  client: RedisClient;
  /** A client the registry may put in subscriber mode, for cache invalidation across instances. */
  subscriber: RedisClient;
  keys: Keys;
  /** Topic size limit when createTopic names none. @default 1 MiB */
  defaultMaxMessageBytes: number;
  /** Checks a topic's JSON Schema when it is created; throws to refuse it. */
  checkPayloadSchema: (schema: unknown) => void;
  /**
   * Checks a webhook URL when a queue gets one (the SSRF guard's create-time check); throws to refuse it.
   * @default accepts every URL
   */
  checkWebhookUrl?: (field: string, url: string) => Promise<void>;
  /**
   * How long a topic or queue name that Redis did not hold is answered NOT_FOUND without asking Redis
   * again (unless an announcement names its topic first); see unknown-names.ts.
   * @default 250 ms
   */
  unknownForMs?: number;
}

/** A new topic's record, its input checked (VALIDATION for what is off). */
function topicRecord(options: RegistryOptions, input: CreateTopicInput): TopicRecord {
  assertName('name', input.name);
  if (!TOPIC_KINDS.includes(input.kind)) throw badInput(`kind must be one of ${TOPIC_KINDS.join(', ')}`);
  if (input.description != null && input.description.length > LIMITS.descriptionLength) {
    throw badInput(`description is longer than ${LIMITS.descriptionLength} characters`, {
      field: 'description',
    });
  }
  const maxMessageBytes = input.maxMessageBytes ?? options.defaultMaxMessageBytes;
  assertInt('maxMessageBytes', maxMessageBytes, 1, LIMITS.maxMessageBytes);
  const payloadSchema = input.payloadSchema ?? null;
  if (payloadSchema !== null) options.checkPayloadSchema(payloadSchema);
  const history = historySettings(input.history);
  const topic: TopicRecord = {
    name: input.name,
    kind: input.kind,
    description: input.description ?? null,
    maxMessageBytes,
    payloadSchema,
    createdAt: new Date().toISOString(),
    ...(history ? { history } : {}),
  };
  return topic;
}

/** A new queue's record before its settings: the defaults, and a signing secret for a webhook. */
function newQueue(topic: TopicRecord, input: CreateQueueInput): QueueRecord {
  return {
    name: input.name,
    topic: topic.name,
    bindingKey: null,
    headers: null,
    headerMatch: null,
    target: input.target,
    url: null,
    signingSecret: input.target === 'WEBHOOK' ? generateSigningSecret() : null,
    deliveryMode: 'AT_LEAST_ONCE',
    retry: { ...QUEUE_DEFAULTS.retry },
    concurrency: QUEUE_DEFAULTS.concurrency,
    ackTimeoutMs: QUEUE_DEFAULTS.ackTimeoutMs,
    maxPriority: input.maxPriority ?? QUEUE_DEFAULTS.maxPriority,
    paused: false,
    createdAt: new Date().toISOString(),
  };
}

/** What the registry's reads and writes run on. */
interface Store {
  client: RedisClient;
  keys: Keys;
  commands: Commands;
  /** Tells every instance (this one too) to drop its cached routing table. */
  announce: ReturnType<typeof createRoutingCache>['announce'];
}

/**
 * Moves the topic's routing version on, after a change to its record or its queues' is written and
 * before the change answers: from here on publish-commit refuses, on every instance, a publish routed
 * with the records before the change, and the instance routes it again (docs/SCALING.md). Not in the
 * change's own call, since on a Redis Cluster the registry and the topic live in different slots; the
 * order (records first, version after) is what keeps a routing read at a version at least that new
 * (topic-routing.ts). Every change counts, not only those that move messages elsewhere: a publish
 * also reads the topic's limits and its queues' delivery settings.
 */
async function moveRouting({ client, keys }: Store, topic: string): Promise<void> {
  await client.incr(keys.topicRouting(topic));
}

/** A change written: the topic's routing version moves on, then every instance hears of it. */
async function changed(store: Store, change: RegistryChange): Promise<void> {
  await moveRouting(store, change.topic);
  await store.announce(change);
}

async function deleteTopic(store: Store, name: string): Promise<void> {
  const { client, keys, commands } = store;
  const result = await commands.run<number>('delete-topic-2', [keys.topics, keys.topicQueues(name)], [name]);
  if (result === -1) throw notFound(`Topic ${name} does not exist`);
  if (result === -2) throw conflict(`Topic ${name} still has queues; delete them first`);
  // Before its history goes: a publish routed before the deletion either wrote its entry already
  // (deleted below) or is refused from here on, so no entry outlives the topic.
  await moveRouting(store, name);
  // Its history goes with it: a topic created again under the name starts with none.
  await client.del(keys.topicHistory(name), keys.topicHistoryIds(name));
  await store.announce({ topic: name });
}

async function requireTopic({ client, keys }: Store, name: string): Promise<TopicRecord> {
  const json = await client.hget(keys.topics, name);
  if (!json) throw notFound(`Topic ${name} does not exist`);
  return JSON.parse(json) as TopicRecord;
}

async function getQueue({ client, keys }: Store, topic: string, name: string): Promise<QueueRecord | null> {
  const json = await client.hget(keys.topicQueues(topic), name);
  return json ? parseQueue(json) : null;
}

async function requireQueue(store: Store, topic: string, name: string): Promise<QueueRecord> {
  const queue = await getQueue(store, topic, name);
  if (!queue) throw notFound(`Queue ${name} of topic ${topic} does not exist`);
  return queue;
}

async function replaceQueue(store: Store, queue: QueueRecord): Promise<QueueRecord> {
  const { keys, commands } = store;
  const result = await commands.run<number>(
    'replace-queue-1',
    [keys.topicQueues(queue.topic)],
    [queue.name, JSON.stringify(queue)],
  );
  if (result === -1) throw notFound(`Queue ${queue.name} of topic ${queue.topic} does not exist`);
  await changed(store, { topic: queue.topic, queue: queue.name });
  return queue;
}

/**
 * Topics and queues, stored in Redis so every gateway instance sees one truth, with the routing
 * table cached in memory and dropped whenever any instance announces a change.
 */
export function createRegistry(options: RegistryOptions) {
  const { client, subscriber, keys } = options;
  const commands = defineCommands(client);
  const cache = createRoutingCache({ client, subscriber, keys, unknownForMs: options.unknownForMs });
  const { table, announce } = cache;
  const store: Store = { client, keys, commands, announce };
  const requireQueueOf = (topic: string, name: string) => requireQueue(store, topic, name);
  const replace = (queue: QueueRecord) => replaceQueue(store, queue);

  async function createTopic(input: CreateTopicInput): Promise<TopicRecord> {
    const topic = topicRecord(options, input);
    const created = await client.hsetnx(keys.topics, topic.name, JSON.stringify(topic));
    if (created === 0) throw conflict(`Topic ${topic.name} already exists`);
    await changed(store, { topic: topic.name });
    return topic;
  }

  async function createQueue(input: CreateQueueInput): Promise<QueueRecord> {
    assertName('topic', input.topic);
    assertName('name', input.name);
    if (!TARGET_KINDS.includes(input.target))
      throw badInput(`target must be one of ${TARGET_KINDS.join(', ')}`);
    const topic = await requireTopic(store, input.topic);
    const queue = applySettings(topic.kind, newQueue(topic, input), input, true);
    if (queue.url !== null) await options.checkWebhookUrl?.('url', queue.url);
    const result = await commands.run<number>(
      'create-queue-2',
      [keys.topics, keys.topicQueues(topic.name)],
      [topic.name, queue.name, JSON.stringify(queue)],
    );
    if (result === -1) throw notFound(`Topic ${topic.name} does not exist`);
    if (result === -2) throw conflict(`Queue ${queue.name} of topic ${topic.name} already exists`);
    await changed(store, { topic: topic.name, queue: queue.name });
    return queue;
  }

  async function updateQueue(
    topicName: string,
    name: string,
    input: QueueSettingsInput,
  ): Promise<QueueRecord> {
    const topic = await requireTopic(store, topicName);
    const current = await requireQueueOf(topicName, name);
    const next = applySettings(topic.kind, current, input, false);
    if (input.url != null && next.url !== null) await options.checkWebhookUrl?.('url', next.url);
    return replace(next);
  }

  async function deleteQueue(topic: string, name: string): Promise<QueueRecord> {
    const queue = await requireQueueOf(topic, name);
    const removed = await client.hdel(keys.topicQueues(topic), name);
    if (removed === 0) throw notFound(`Queue ${name} of topic ${topic} does not exist`);
    await changed(store, { topic, queue: name });
    return queue;
  }

  async function setPaused(topic: string, name: string, paused: boolean): Promise<QueueRecord> {
    const queue = await requireQueueOf(topic, name);
    return replace({ ...queue, paused });
  }

  async function setSigningSecret(topic: string, name: string, signingSecret: string): Promise<QueueRecord> {
    const queue = await requireQueueOf(topic, name);
    if (queue.target !== 'WEBHOOK') throw badInput(`Queue ${name} is not a WEBHOOK queue`);
    return replace({ ...queue, signingSecret });
  }

  /** A new signing secret; the old one keeps signing for `graceMs` (see signing/secrets.ts). */
  async function rotateSigningSecret(topic: string, name: string, graceMs: number): Promise<QueueRecord> {
    const queue = await requireQueueOf(topic, name);
    if (queue.target !== 'WEBHOOK') throw badInput(`Queue ${name} is not a WEBHOOK queue`);
    return replace({ ...queue, ...rotateSecrets(queue, graceMs) });
  }

  return {
    table,
    /**
     * The routing table, first read again from Redis when it lacks one of these names and Redis holds
     * it: another instance created it and its announcement has not arrived yet. For every lookup that
     * answers NOT_FOUND on a miss.
     */
    tableKnowing: cache.tableKnowing,
    /**
     * Each named topic's routing with the routing version it was read at, for publishing (a topic
     * Redis does not hold is left out): publish-commit applies a publish only while the topic's
     * version is still the one it was routed with (PublishCommit.routedAt).
     */
    routingOf: cache.routingOf,
    /** routingOf's answer when every name's routing is kept here already, else null (then ask routingOf). */
    routingKnown: cache.routingKnown,
    /** A publish routed with this version of the topic was refused as moved on: read it again. */
    routingMoved: cache.routingMoved,
    createTopic,
    deleteTopic: (name: string) => deleteTopic(store, name),
    requireTopic: (name: string) => requireTopic(store, name),
    createQueue,
    updateQueue,
    deleteQueue,
    getQueue: (topic: string, name: string) => getQueue(store, topic, name),
    requireQueue: requireQueueOf,
    setPaused,
    setSigningSecret,
    rotateSigningSecret,
    onChange: cache.onChange,
    ready: cache.ready,
    close: cache.close,
  };
}

export type Registry = ReturnType<typeof createRegistry>;
