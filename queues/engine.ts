import { Redis } from 'ioredis';
import { defineCommands } from './commands/index.js';
import { createConsumers } from './consumer.js';
import { createEventBus } from './events.js';
import { createKeys } from './keys.js';
import { createPayloadSchemas } from './payload-schema.js';
import {
  createPublisher,
  type PublisherOptions,
  type PublishInput,
  type PublishResult,
} from './publisher.js';
import { createQueueHandles } from './queue-handles.js';
import {
  type CreateQueueInput,
  type CreateTopicInput,
  createRegistry,
  type QueueSettingsInput,
} from './registry.js';
import { queueStats, topicCounters } from './stats.js';
import type { QueueRecord } from './types.js';
import { createWebhookWorkers } from './webhook-worker.js';

const HOUR = 60 * 60 * 1000;
const MiB = 1024 * 1024;

export interface EngineOptions {
  /** redis:// URL of the Redis that holds everything. */
  redisUrl: string;
  /** Prefix of every key, so several deployments can share one Redis. @default 'sy' */
  keyPrefix?: string;
  /** How long an idempotency key is remembered. @default 24 h */
  dedupWindowMs?: number;
  /** A topic's size limit when it sets none. @default 1 MiB */
  defaultMaxMessageBytes?: number;
  /** Run webhook delivery workers in this process. @default true */
  runWorkers?: boolean;
  /** Where background errors go (worker connection trouble, a failed reconcile). @default ignored */
  onError?: (error: Error) => void;
  /** Fault injection for tests; see PublisherOptions.beforeExec. */
  beforeExec?: PublisherOptions['beforeExec'];
}

/**
 * The messaging engine: registry, publisher, delivery. No GraphQL in here; the schema's resolvers
 * call these functions and nothing else touches Redis.
 */
export async function createEngine(options: EngineOptions) {
  const onError = options.onError ?? (() => {});
  const keys = createKeys(options.keyPrefix ?? 'sy');
  // Fail fast while Redis is away (no offline queue): a publish must answer UNAVAILABLE, not hang.
  const client = new Redis(options.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  });
  const subscriber = new Redis(options.redisUrl, { lazyConnect: true });
  // Workers wait out Redis outages instead of failing (BullMQ requires maxRetriesPerRequest null here).
  const workerConnection = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  for (const connection of [client, subscriber, workerConnection]) connection.on('error', onError);
  await Promise.all([client.connect(), subscriber.connect(), workerConnection.connect()]);

  const schemas = createPayloadSchemas();
  const events = createEventBus();
  const registry = createRegistry({
    client,
    subscriber,
    keys,
    defaultMaxMessageBytes: options.defaultMaxMessageBytes ?? 1 * MiB,
    checkPayloadSchema: schemas.check,
  });
  await registry.ready();
  const handles = createQueueHandles(client, keys);
  const publisher = createPublisher({
    client,
    keys,
    registry,
    handles,
    schemas,
    commands: defineCommands(client),
    dedupWindowMs: options.dedupWindowMs ?? 24 * HOUR,
    beforeExec: options.beforeExec,
  });
  const consumers = createConsumers({ connection: workerConnection, keys, registry, events, onError });
  const webhooks = createWebhookWorkers({ connection: workerConnection, keys, events, onError });

  let reconciling: Promise<void> = Promise.resolve();
  let closed: Promise<void> | null = null;
  const reconcile = () => {
    if (options.runWorkers === false || closed) return reconciling;
    reconciling = reconciling.then(async () => {
      if (closed) return;
      try {
        await webhooks.reconcile(await registry.table());
      } catch (error) {
        onError(error as Error);
      }
    });
    return reconciling;
  };
  const stopWatching = registry.onChange(() => void reconcile());
  await reconcile();

  function announcePublished(results: PublishResult[]): void {
    if (events.size === 0) return;
    for (const { message } of results) {
      if (!message) continue;
      events.emit({
        kind: 'PUBLISHED',
        at: message.publishedAt,
        topic: message.topic,
        queue: null,
        messageId: message.id,
        attempt: null,
        reason: null,
        error: null,
      });
    }
  }

  const bullQueue = (queue: Pick<QueueRecord, 'topic' | 'name'>) => handles.get(queue.topic, queue.name);

  async function setPaused(topic: string, name: string, paused: boolean): Promise<QueueRecord> {
    const queue = await registry.requireQueue(topic, name);
    // BullMQ's own flag is what stops every instance's workers; the registry copy is for reading.
    if (paused) await bullQueue(queue).pause();
    else await bullQueue(queue).resume();
    return registry.setPaused(topic, name, paused);
  }

  return {
    keys,
    events,
    registry,
    createTopic: (input: CreateTopicInput) => registry.createTopic(input),
    deleteTopic: (name: string) => registry.deleteTopic(name),
    async topics() {
      return (await registry.table()).topics();
    },
    async topic(name: string) {
      return (await registry.table()).topic(name) ?? null;
    },
    async queues(topic: string) {
      return (await registry.table()).queues(topic);
    },
    queue: (topic: string, name: string) => registry.getQueue(topic, name),
    // Both wait for this instance's workers to follow, so the next publish meets the new settings.
    async createQueue(input: CreateQueueInput) {
      const queue = await registry.createQueue(input);
      await reconcile();
      return queue;
    },
    async updateQueue(topic: string, name: string, input: QueueSettingsInput) {
      const queue = await registry.updateQueue(topic, name, input);
      await reconcile();
      return queue;
    },
    async deleteQueue(topic: string, name: string): Promise<void> {
      const queue = await registry.deleteQueue(topic, name);
      await reconcile();
      await consumers.drop(topic, name);
      // Deleting a queue drops its messages, as in AMQP; BullMQ removes every key of it.
      await bullQueue(queue).obliterate({ force: true });
      await handles.drop(topic, name);
    },
    pauseQueue: (topic: string, name: string) => setPaused(topic, name, true),
    resumeQueue: (topic: string, name: string) => setPaused(topic, name, false),
    async publish(input: PublishInput): Promise<PublishResult> {
      const result = await publisher.publish(input);
      announcePublished([result]);
      return result;
    },
    async publishBatch(inputs: PublishInput[]): Promise<PublishResult[]> {
      const results = await publisher.publishBatch(inputs);
      announcePublished(results);
      return results;
    },
    receive: consumers.receive,
    ack: consumers.ack,
    nack: consumers.nack,
    queueStats: (queue: Pick<QueueRecord, 'topic' | 'name'>) => queueStats(bullQueue(queue)),
    async topicStats(topic: string) {
      const [counters, queues] = await Promise.all([topicCounters(client, keys, topic), this.queues(topic)]);
      const failed = await Promise.all(queues.map((queue) => bullQueue(queue).getFailedCount()));
      return { ...counters, deadLettered: failed.reduce((sum, count) => sum + count, 0) };
    },
    /** True when Redis answers a PING now. */
    async redisHealthy(): Promise<boolean> {
      try {
        return client.status === 'ready' && (await client.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    get webhookWorkers() {
      return webhooks.size;
    },
    /** Stops taking work, lets in-flight deliveries finish, then closes every connection. Idempotent. */
    close(): Promise<void> {
      closed ??= (async () => {
        stopWatching();
        await reconciling;
        const results = await Promise.allSettled([webhooks.close(), consumers.close()]);
        await registry.close();
        await handles.close();
        await Promise.allSettled([client.quit(), subscriber.quit(), workerConnection.quit()]);
        const failure = results.find((result) => result.status === 'rejected');
        if (failure) throw failure.reason;
      })();
      return closed;
    },
  };
}

export type Engine = Awaited<ReturnType<typeof createEngine>>;
