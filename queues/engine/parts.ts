import type { QueueRecord } from '../core/index.js';
import { createEventBus, createLosses, ENGINE_DEFAULTS } from '../core/index.js';
import { createDeadLetters } from '../dead-letters/index.js';
import {
  createCircuitBreaker,
  createConsumerPush,
  createConsumers,
  createReplySender,
  createRequests,
  createWebhookWorkers,
} from '../delivery/index.js';
import { createHistory, createReplayTasks } from '../history/index.js';
import { createLive } from '../live/index.js';
import { createPayloadSchemas, createPublisher } from '../publish/index.js';
import {
  createKeys,
  createOrdering,
  createQueueHandles,
  defineCommands,
  isCluster,
  openRedis,
  type RedisClient,
  type RedisTarget,
} from '../redis/index.js';
import { createRegistry } from '../registry/index.js';
import { createSecurity } from '../security/index.js';
import { queueBacklog } from '../stats/index.js';
import type { EngineOptions } from './options.js';

/** The engine's three connections to Redis. */
export interface Connections {
  /** Commands: fails fast while Redis is away. */
  client: RedisClient;
  /** Pub/sub. */
  subscriber: RedisClient;
  /** BullMQ workers: waits out Redis outages. */
  workerConnection: RedisClient;
}

/** The engine's Redis: `options.redis`, or the one server at `options.redisUrl`. */
export function redisTarget(options: Pick<EngineOptions, 'redis' | 'redisUrl'>): RedisTarget {
  if (options.redis) return options.redis;
  if (options.redisUrl) return { url: options.redisUrl };
  throw new Error('createEngine needs redis (a URL or cluster nodes) or redisUrl');
}

/** Opens the engine's connections, all through `openRedis`: one server or a cluster alike. */
export async function openConnections(
  target: RedisTarget,
  onError: (error: Error) => void,
  commandTimeoutMs = ENGINE_DEFAULTS.commandTimeoutMs,
): Promise<Connections> {
  // Fail fast while Redis is away (no offline queue): a publish must answer UNAVAILABLE, not hang.
  const client = openRedis(target, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    lazyConnect: true,
  });
  const subscriber = openRedis(target, { lazyConnect: true });
  // Workers wait out Redis outages instead of failing (BullMQ requires maxRetriesPerRequest null here).
  const workerConnection = openRedis(target, { maxRetriesPerRequest: null, lazyConnect: true });
  for (const connection of [client, subscriber, workerConnection]) connection.on('error', onError);
  await Promise.all([client.connect(), subscriber.connect(), workerConnection.connect()]);
  return { client, subscriber, workerConnection };
}

/** Registry, security, live streams, dead letters and the publisher, on the engine's connections. */
export async function createCoreParts(
  options: EngineOptions,
  connections: Connections,
  onError: (error: Error) => void,
) {
  const { client, subscriber } = connections;
  const keys = createKeys(options.keyPrefix ?? ENGINE_DEFAULTS.keyPrefix);
  const schemas = createPayloadSchemas();
  const events = createEventBus();
  const losses = createLosses();
  // One definition of our Lua commands on the shared client, for every part that runs them.
  const commands = defineCommands(client);
  const security = createSecurity({ client, subscriber, keys, commands, onError }, options);
  const registry = createRegistry({
    client,
    subscriber,
    keys,
    defaultMaxMessageBytes: options.defaultMaxMessageBytes ?? ENGINE_DEFAULTS.defaultMaxMessageBytes,
    checkPayloadSchema: schemas.check,
    checkWebhookUrl: security.checkWebhookUrl,
  });
  await Promise.all([registry.ready(), security.ready()]);
  const handles = createQueueHandles(client, keys);
  const history = createHistory({ client, keys });
  const live = await createLive(
    { redis: redisTarget(options), client, keys, registry, handles, events, losses, history, onError },
    options.live,
  );
  const deadLetters = createDeadLetters({
    client,
    keys,
    registry,
    handles,
    schemas,
    events,
    onError,
    ...options.deadLetters,
  });
  const ordering = createOrdering({ client, commands, keys });
  const publisher = createPublisher({
    client,
    keys,
    registry,
    handles,
    schemas,
    commands,
    dedupWindowMs: options.dedupWindowMs ?? ENGINE_DEFAULTS.dedupWindowMs,
    beforeExec: options.beforeExec,
    maxBatchSize: options.maxBatchSize,
    cluster: isCluster(redisTarget(options)),
    live: live.tap,
    ordering,
  });
  const bullQueue = (queue: Pick<QueueRecord, 'topic' | 'name'>) => handles.get(queue.topic, queue.name);
  const replayTasks = createReplayTasks({
    client,
    keys,
    commands,
    registry,
    handles,
    events,
    onError,
    ...options.replayTasks,
  });
  return {
    history,
    replayTasks,
    ...connections,
    keys,
    schemas,
    events,
    losses,
    commands,
    security,
    registry,
    handles,
    live,
    deadLetters,
    publisher,
    ordering,
    bullQueue,
  };
}

export type CoreParts = Awaited<ReturnType<typeof createCoreParts>>;

/** Consumers, `consume` streams, circuit breakers and webhook workers. */
export function createDeliveryParts(
  core: CoreParts,
  options: EngineOptions,
  onError: (error: Error) => void,
) {
  const { client, workerConnection, keys, registry, events, commands } = core;
  // Where a delivery fails for good: store its error redacted, and index it right away.
  // A dead letter or a delivery of a message with an ordering key releases the next of its key.
  const failures = {
    redact: core.deadLetters.redact,
    onDeadLetter: async (topic: string, queue: string, jobId: string) => {
      await core.deadLetters.record(topic, queue, jobId);
      await core.ordering.finished(topic, queue, jobId).catch(onError);
    },
    onDelivered: (topic: string, queue: string, jobId: string, orderingKey: string) =>
      core.ordering.finished(topic, queue, jobId, orderingKey),
    onDelivering: (topic: string, queue: string, jobId: string, orderingKey: string) =>
      core.ordering.finishing(topic, queue, jobId, orderingKey),
  };
  // Request-reply: replies are sent from any instance's consumers and webhook workers, and heard by
  // the instance whose request waits for them.
  const replies = createReplySender({
    client,
    keys,
    maxBytes: async (topic) => (await registry.table()).topic(topic)?.maxMessageBytes ?? 0,
  });
  const requests = createRequests({ client, subscriber: core.subscriber, keys, sender: replies, onError });
  const consumers = createConsumers({
    connection: workerConnection,
    keys,
    registry,
    events,
    onError,
    replies,
    ...failures,
  });
  const push = createConsumerPush({
    consumers,
    registry,
    pubsub: core.live.pubsub,
    client,
    channels: keys.live,
    onError,
  });
  const circuit = createCircuitBreaker({ commands, keys, client }, options.circuit);
  const webhooks = createWebhookWorkers({
    connection: workerConnection,
    keys,
    events,
    dispatcher: core.security.agent,
    onError,
    circuit,
    replies,
    // Ranged queues scale by their backlog and lag, read the way Queue.stats reads them.
    measure: (queue) => queueBacklog(core.bullQueue(queue), commands),
    autoscale: options.autoscale,
    ...failures,
  });
  return { consumers, push, circuit, webhooks, replies, requests };
}

export type Parts = CoreParts & ReturnType<typeof createDeliveryParts>;

/**
 * Keeps this instance's webhook workers (when `runWebhooks`) and consumer workers in step with the
 * registry, one pass at a time; after stop() no new pass starts, and stop() answers when the running
 * one is done.
 */
export function createReconciler(parts: Parts, runWebhooks: boolean, onError: (error: Error) => void) {
  let reconciling: Promise<void> = Promise.resolve();
  let stopped = false;
  return {
    reconcile(): Promise<void> {
      if (stopped) return reconciling;
      reconciling = reconciling.then(async () => {
        if (stopped) return;
        try {
          const table = await parts.registry.table();
          // Consumer workers open on first use; a queue deleted through any instance closes them here.
          await Promise.all([
            runWebhooks ? parts.webhooks.reconcile(table) : undefined,
            parts.consumers.retain(table),
          ]);
        } catch (error) {
          onError(error as Error);
        }
      });
      return reconciling;
    },
    stop(): Promise<void> {
      stopped = true;
      return reconciling;
    },
  };
}
