import {
  assertInt,
  assertName,
  assertString,
  assertWebhookUrl,
  badInput,
  conflict,
  DELIVERY_MODES,
  type DeliveryMode,
  type HeaderMatch,
  LIMITS,
  notFound,
  PRIORITY,
  QUEUE_DEFAULTS,
  type QueueAlertThresholds,
  type QueueRecord,
  type RetryPolicy,
  TARGET_KINDS,
  type TargetKind,
  TOPIC_KINDS,
  type TopicHistorySettings,
  type TopicKind,
  type TopicRecord,
} from '../core/index.js';
import type { Keys, RedisClient } from '../redis/index.js';
import { defineCommands } from '../redis/index.js';
import { generateSigningSecret, rotateSecrets } from '../signing/index.js';
import { type RoutingTable, validateBinding } from './router.js';
import { createRoutingCache, parseQueue } from './routing-cache.js';

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

export interface QueueSettingsInput {
  bindingKey?: string | null;
  headers?: unknown;
  headerMatch?: HeaderMatch | null;
  url?: string | null;
  deliveryMode?: DeliveryMode | null;
  retry?: Partial<{ [K in keyof RetryPolicy]: RetryPolicy[K] | null }> | null;
  concurrency?: number | null;
  /**
   * WEBHOOK: a concurrency range, given together (on update, one alone moves that end of an existing
   * range); null for both makes the concurrency fixed again. See applyConcurrency.
   */
  minConcurrency?: number | null;
  maxConcurrency?: number | null;
  ackTimeoutMs?: number | null;
  /**
   * The queue's own alert thresholds: each field given replaces the stored one (null: back to the
   * gateway's setting); `alerts: null` on an update puts every one back to the gateway's setting.
   */
  alerts?: Partial<QueueAlertThresholds> | null;
}

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
}

/**
 * Topics and queues, stored in Redis so every gateway instance sees one truth, with the routing
 * table cached in memory and dropped whenever any instance announces a change.
 */
export function createRegistry(options: RegistryOptions) {
  const { client, subscriber, keys } = options;
  const commands = defineCommands(client);
  const cache = createRoutingCache({ client, subscriber, keys });
  const { table, announce } = cache;

  async function createTopic(input: CreateTopicInput): Promise<TopicRecord> {
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
    const created = await client.hsetnx(keys.topics, topic.name, JSON.stringify(topic));
    if (created === 0) throw conflict(`Topic ${topic.name} already exists`);
    await announce({ topic: topic.name });
    return topic;
  }

  async function deleteTopic(name: string): Promise<void> {
    const result = await commands.run<number>(
      'delete-topic-2',
      [keys.topics, keys.topicQueues(name)],
      [name],
    );
    if (result === -1) throw notFound(`Topic ${name} does not exist`);
    if (result === -2) throw conflict(`Topic ${name} still has queues; delete them first`);
    // Its history goes with it: a topic created again under the name starts with none.
    await client.del(keys.topicHistory(name));
    await announce({ topic: name });
  }

  async function requireTopic(name: string): Promise<TopicRecord> {
    const json = await client.hget(keys.topics, name);
    if (!json) throw notFound(`Topic ${name} does not exist`);
    return JSON.parse(json) as TopicRecord;
  }

  async function getQueue(topic: string, name: string): Promise<QueueRecord | null> {
    const json = await client.hget(keys.topicQueues(topic), name);
    return json ? parseQueue(json) : null;
  }

  async function requireQueue(topic: string, name: string): Promise<QueueRecord> {
    const queue = await getQueue(topic, name);
    if (!queue) throw notFound(`Queue ${name} of topic ${topic} does not exist`);
    return queue;
  }

  async function createQueue(input: CreateQueueInput): Promise<QueueRecord> {
    assertName('topic', input.topic);
    assertName('name', input.name);
    if (!TARGET_KINDS.includes(input.target))
      throw badInput(`target must be one of ${TARGET_KINDS.join(', ')}`);
    const topic = await requireTopic(input.topic);
    const base: QueueRecord = {
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
    const queue = applySettings(topic.kind, base, input, true);
    if (queue.url !== null) await options.checkWebhookUrl?.('url', queue.url);
    const result = await commands.run<number>(
      'create-queue-2',
      [keys.topics, keys.topicQueues(topic.name)],
      [topic.name, queue.name, JSON.stringify(queue)],
    );
    if (result === -1) throw notFound(`Topic ${topic.name} does not exist`);
    if (result === -2) throw conflict(`Queue ${queue.name} of topic ${topic.name} already exists`);
    await announce({ topic: topic.name, queue: queue.name });
    return queue;
  }

  async function replaceQueue(queue: QueueRecord): Promise<QueueRecord> {
    const result = await commands.run<number>(
      'replace-queue-1',
      [keys.topicQueues(queue.topic)],
      [queue.name, JSON.stringify(queue)],
    );
    if (result === -1) throw notFound(`Queue ${queue.name} of topic ${queue.topic} does not exist`);
    await announce({ topic: queue.topic, queue: queue.name });
    return queue;
  }

  async function updateQueue(
    topicName: string,
    name: string,
    input: QueueSettingsInput,
  ): Promise<QueueRecord> {
    const topic = await requireTopic(topicName);
    const current = await requireQueue(topicName, name);
    const next = applySettings(topic.kind, current, input, false);
    if (input.url != null && next.url !== null) await options.checkWebhookUrl?.('url', next.url);
    return replaceQueue(next);
  }

  async function deleteQueue(topic: string, name: string): Promise<QueueRecord> {
    const queue = await requireQueue(topic, name);
    const removed = await client.hdel(keys.topicQueues(topic), name);
    if (removed === 0) throw notFound(`Queue ${name} of topic ${topic} does not exist`);
    await announce({ topic, queue: name });
    return queue;
  }

  async function setPaused(topic: string, name: string, paused: boolean): Promise<QueueRecord> {
    const queue = await requireQueue(topic, name);
    return replaceQueue({ ...queue, paused });
  }

  async function setSigningSecret(topic: string, name: string, signingSecret: string): Promise<QueueRecord> {
    const queue = await requireQueue(topic, name);
    if (queue.target !== 'WEBHOOK') throw badInput(`Queue ${name} is not a WEBHOOK queue`);
    return replaceQueue({ ...queue, signingSecret });
  }

  /** A new signing secret; the old one keeps signing for `graceMs` (see signing/secrets.ts). */
  async function rotateSigningSecret(topic: string, name: string, graceMs: number): Promise<QueueRecord> {
    const queue = await requireQueue(topic, name);
    if (queue.target !== 'WEBHOOK') throw badInput(`Queue ${name} is not a WEBHOOK queue`);
    return replaceQueue({ ...queue, ...rotateSecrets(queue, graceMs) });
  }

  return {
    table,
    createTopic,
    deleteTopic,
    requireTopic,
    createQueue,
    updateQueue,
    deleteQueue,
    getQueue,
    requireQueue,
    setPaused,
    setSigningSecret,
    rotateSigningSecret,
    onChange: cache.onChange,
    ready: cache.ready,
    close: cache.close,
  };
}

export type Registry = ReturnType<typeof createRegistry>;

/** Merges settings into a queue record and checks the result as a whole, so nothing half-valid is stored. */
function applySettings(
  kind: TopicKind,
  current: QueueRecord,
  input: QueueSettingsInput,
  creating: boolean,
): QueueRecord {
  const next: QueueRecord = { ...current, retry: { ...current.retry } };
  if (input.bindingKey !== undefined) next.bindingKey = input.bindingKey;
  if (input.headers !== undefined) next.headers = input.headers as QueueRecord['headers'];
  if (input.headerMatch !== undefined) next.headerMatch = input.headerMatch;
  if (input.url !== undefined) next.url = input.url;
  if (input.deliveryMode != null) next.deliveryMode = input.deliveryMode;
  if (input.concurrency != null) next.concurrency = input.concurrency;
  if (input.ackTimeoutMs != null) next.ackTimeoutMs = input.ackTimeoutMs;
  const retry = input.retry ?? {};
  const retryGiven = retry.maxAttempts != null;
  if (retry.maxAttempts != null) next.retry.maxAttempts = retry.maxAttempts;
  if (retry.backoff != null) next.retry.backoff = retry.backoff;
  if (retry.delayMs != null) next.retry.delayMs = retry.delayMs;
  if (retry.maxDelayMs != null) next.retry.maxDelayMs = retry.maxDelayMs;
  if (retry.jitter != null) next.retry.jitter = retry.jitter;

  if (input.alerts !== undefined) next.alerts = alertThresholds(current.alerts, input.alerts);

  const bindingError = validateBinding(kind, next);
  if (bindingError) throw badInput(bindingError);
  if (!DELIVERY_MODES.includes(next.deliveryMode))
    throw badInput(`deliveryMode must be one of ${DELIVERY_MODES.join(', ')}`);
  if (next.deliveryMode === 'AT_MOST_ONCE') {
    // At-most-once means one attempt; a retry policy asking for more is a contradiction, not a preference.
    if (retryGiven && next.retry.maxAttempts > 1) {
      throw badInput('AT_MOST_ONCE queues make one attempt; retry.maxAttempts must be 1', {
        field: 'retry.maxAttempts',
      });
    }
    if (creating || !retryGiven) next.retry.maxAttempts = 1;
  }
  assertInt('retry.maxAttempts', next.retry.maxAttempts, 1, LIMITS.maxAttempts);
  assertInt('retry.delayMs', next.retry.delayMs, 0, LIMITS.retryDelayMs);
  assertInt('retry.maxDelayMs', next.retry.maxDelayMs, 0, LIMITS.retryDelayMs);
  if (next.retry.maxDelayMs < next.retry.delayMs) {
    throw badInput('retry.maxDelayMs must be at least retry.delayMs', { field: 'retry.maxDelayMs' });
  }
  assertInt('concurrency', next.concurrency, 1, LIMITS.concurrency);
  applyConcurrencyRange(current, next, input, creating);
  assertInt('ackTimeoutMs', next.ackTimeoutMs, LIMITS.ackTimeoutMs.min, LIMITS.ackTimeoutMs.max);
  assertInt('maxPriority', next.maxPriority, PRIORITY.min, PRIORITY.max);
  if (next.target === 'WEBHOOK') {
    if (!next.url) throw badInput('url is required for a WEBHOOK queue', { field: 'url' });
    assertWebhookUrl('url', next.url);
  } else if (next.url !== null) {
    throw badInput('url is only for WEBHOOK queues', { field: 'url' });
  }
  if (next.bindingKey !== null) assertString('bindingKey', next.bindingKey, LIMITS.routingKeyLength);
  return next;
}

/**
 * Sets or clears a queue's concurrency range. Both ends or neither; on an update one end alone moves
 * that end of the range the queue has. `concurrency` with a range is where each instance's worker
 * starts: a given value must lie within the range; left out, it is the range's minimum on create and
 * the stored value pulled into the range on update.
 */
function applyConcurrencyRange(
  current: QueueRecord,
  next: QueueRecord,
  input: QueueSettingsInput,
  creating: boolean,
): void {
  const stored = (value: number | undefined) => (creating ? null : (value ?? null));
  const min = input.minConcurrency !== undefined ? input.minConcurrency : stored(current.minConcurrency);
  const max = input.maxConcurrency !== undefined ? input.maxConcurrency : stored(current.maxConcurrency);
  if (min === null && max === null) {
    delete next.minConcurrency;
    delete next.maxConcurrency;
    return;
  }
  if (min === null || max === null) {
    const missing = min === null ? 'minConcurrency' : 'maxConcurrency';
    throw badInput(
      `A concurrency range needs both minConcurrency and maxConcurrency; ${missing} is missing`,
      {
        field: missing,
      },
    );
  }
  assertInt('minConcurrency', min, 1, LIMITS.concurrency);
  assertInt('maxConcurrency', max, 1, LIMITS.concurrency);
  if (min > max) {
    throw badInput(`minConcurrency (${min}) must be at most maxConcurrency (${max})`, {
      field: 'minConcurrency',
    });
  }
  if (next.target !== 'WEBHOOK') {
    throw badInput('Only WEBHOOK queues take a concurrency range: consumers pace CONSUMER queues', {
      field: 'minConcurrency',
    });
  }
  if (input.concurrency != null && (input.concurrency < min || input.concurrency > max)) {
    throw badInput(
      `concurrency (${input.concurrency}) must lie within minConcurrency..maxConcurrency (${min}..${max})`,
      {
        field: 'concurrency',
      },
    );
  }
  next.minConcurrency = min;
  next.maxConcurrency = max;
  if (input.concurrency == null)
    next.concurrency = creating ? min : Math.min(max, Math.max(min, next.concurrency));
}

/** GraphQL's Int, the widest a threshold can arrive as. */
const INT32_MAX = 2_147_483_647;

const NO_ALERT_THRESHOLDS: QueueAlertThresholds = {
  maxWaiting: null,
  maxLagMs: null,
  maxDeliveryLatencyMs: null,
  maxFailureRate: null,
  maxAttempts: null,
};

/** Merges and checks alert thresholds: counts and durations are integers of 0 or more, a rate is 0..1. */
function alertThresholds(
  current: QueueAlertThresholds | undefined,
  input: Partial<QueueAlertThresholds> | null,
): QueueAlertThresholds {
  if (input === null) return { ...NO_ALERT_THRESHOLDS };
  const next: QueueAlertThresholds = { ...NO_ALERT_THRESHOLDS, ...current };
  for (const field of ['maxWaiting', 'maxLagMs', 'maxDeliveryLatencyMs', 'maxAttempts'] as const) {
    const value = input[field];
    if (value === undefined) continue;
    if (value !== null) assertInt(`alerts.${field}`, value, 0, INT32_MAX);
    next[field] = value;
  }
  const rate = input.maxFailureRate;
  if (rate !== undefined) {
    if (rate !== null && !(Number.isFinite(rate) && rate >= 0 && rate <= 1)) {
      throw badInput(`alerts.maxFailureRate must be between 0 and 1, got ${rate}`, {
        field: 'alerts.maxFailureRate',
      });
    }
    next.maxFailureRate = rate;
  }
  return next;
}
