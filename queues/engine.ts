import { Redis } from 'ioredis';
import { type AlertThresholds, type AlertTransition, type AlertWebhook, createAlerts } from './alerts.js';
import { type CircuitOptions, createCircuitBreaker } from './circuit-breaker.js';
import { defineCommands } from './commands/index.js';
import { createConsumers } from './consumer.js';
import { createConsumerPush } from './consumer-push.js';
import { parseDeadLetterId } from './dead-letter-ids.js';
import {
  createDeadLetters,
  type DeadLetterFilter,
  type DeadLetterSettings,
  type ReplayOptions,
  type ReplayResult,
} from './dead-letters.js';
import { createEventBus } from './events.js';
import { createKeys } from './keys.js';
import { createLive, type LiveOptions } from './live.js';
import { createMetrics, type QueueReading } from './metrics.js';
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
import { createSecurity, type SecurityOptions } from './security.js';
import { queueStats, topicCounters } from './stats.js';
import type { QueueRecord } from './types.js';
import { createWebhookWorkers } from './webhook-worker.js';

const HOUR = 60 * 60 * 1000;
const MiB = 1024 * 1024;

/** `SecurityOptions` (security.ts) are engine options too: webhookPolicy, rate limits, audit log... */
export interface EngineOptions extends SecurityOptions {
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
  /** Dead-letter retention, archive folder, redaction and maintenance interval (see dead-letters.ts). */
  deadLetters?: DeadLetterSettings;
  /** The most messages one publishBatch takes. @default 1000 */
  maxBatchSize?: number;
  /**
   * Export Node's process metrics (CPU, memory, event loop lag, GC) with the gateway's own.
   * @default true
   */
  processMetrics?: boolean;
  /**
   * Built-in alerts (alerts.ts): thresholds, how often to evaluate (0: only when `evaluateAlerts` is
   * called), where to notify, and a callback for each transition this instance announces.
   * @default lag over 5 minutes, any dead letter and open circuits, every 15 s, no webhook
   */
  alerts?: {
    thresholds?: Partial<AlertThresholds>;
    intervalMs?: number;
    webhook?: AlertWebhook | null;
    onTransition?: (transition: AlertTransition) => void;
  };
  /** Live streams: per-subscriber buffer bounds, stats window (see live.ts). @default see LiveOptions */
  live?: LiveOptions;
  /** When a failing webhook endpoint's circuit opens, and for how long (see circuit-breaker.ts). */
  circuit?: CircuitOptions;
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
  // One definition of our Lua commands on the shared client, for every part that runs them.
  const commands = defineCommands(client);
  const security = createSecurity({ client, subscriber, keys, commands, onError }, options);
  const registry = createRegistry({
    client,
    subscriber,
    keys,
    defaultMaxMessageBytes: options.defaultMaxMessageBytes ?? 1 * MiB,
    checkPayloadSchema: schemas.check,
    checkWebhookUrl: security.checkWebhookUrl,
  });
  await Promise.all([registry.ready(), security.ready()]);
  const handles = createQueueHandles(client, keys);
  const live = await createLive(
    { redisUrl: options.redisUrl, client, keys, registry, handles, events, onError },
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
  // Where a delivery fails for good: store its error redacted, and index it right away.
  const failures = { redact: deadLetters.redact, onDeadLetter: deadLetters.record };
  const publisher = createPublisher({
    client,
    keys,
    registry,
    handles,
    schemas,
    commands,
    dedupWindowMs: options.dedupWindowMs ?? 24 * HOUR,
    beforeExec: options.beforeExec,
    maxBatchSize: options.maxBatchSize,
    live: live.tap,
  });
  const consumers = createConsumers({
    connection: workerConnection,
    keys,
    registry,
    events,
    onError,
    ...failures,
  });
  const push = createConsumerPush({
    consumers,
    registry,
    pubsub: live.pubsub,
    client,
    channels: keys.live,
    onError,
  });
  const circuit = createCircuitBreaker({ commands, keys, client }, options.circuit);
  const webhooks = createWebhookWorkers({
    connection: workerConnection,
    keys,
    events,
    dispatcher: security.agent,
    onError,
    circuit,
    ...failures,
  });

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
  const bullQueue = (queue: Pick<QueueRecord, 'topic' | 'name'>) => handles.get(queue.topic, queue.name);
  async function redisHealthy(): Promise<boolean> {
    try {
      return client.status === 'ready' && (await client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }
  /** Every queue's depths, lag and circuit: what a metrics scrape and an alert evaluation read. */
  async function readQueues(): Promise<QueueReading[]> {
    const table = await registry.table();
    const queues = table.topics().flatMap((topic) => table.queues(topic.name));
    return Promise.all(
      queues.map(async (queue) => ({
        queue,
        stats: await queueStats(bullQueue(queue), commands),
        circuit: queue.target === 'WEBHOOK' ? (await circuit.state(queue.topic, queue.name)).state : null,
      })),
    );
  }
  const alerts = createAlerts({
    keys,
    client,
    commands: commands,
    readQueues,
    thresholds: options.alerts?.thresholds,
    intervalMs: options.alerts?.intervalMs,
    webhook: options.alerts?.webhook,
    dispatcher: security.agent,
    onTransition: options.alerts?.onTransition,
    onError,
  });
  const metrics = createMetrics({
    events,
    redisUp: redisHealthy,
    processMetrics: options.processMetrics,
    readQueues,
    firingAlerts: alerts.list,
  });

  const stopWatching = registry.onChange(() => void reconcile());
  await reconcile();
  deadLetters.start();

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

  async function setPaused(topic: string, name: string, paused: boolean): Promise<QueueRecord> {
    const queue = await registry.requireQueue(topic, name);
    // BullMQ's own flag is what stops every instance's workers; the registry copy is for reading.
    if (paused) await bullQueue(queue).pause();
    else await bullQueue(queue).resume();
    return registry.setPaused(topic, name, paused);
  }

  const circuitTarget = (topic: string, name: string) => {
    const limiterKey = handles.get(topic, name).keys.limiter;
    if (!limiterKey) throw new Error(`BullMQ named no limiter key for queue ${name}`);
    return { topic, name, limiterKey };
  };

  /** After a replay: an OPEN circuit of a webhook queue replayed into probes with its first message now. */
  async function probeReplayed(result: ReplayResult, toQueue: string | null): Promise<ReplayResult> {
    const table = await registry.table();
    const replayedInto = new Map<string, { topic: string; name: string }>();
    for (const id of result.ids) {
      const { topic, queue } = parseDeadLetterId(id);
      const name = toQueue ?? queue;
      replayedInto.set(`${topic}/${name}`, { topic, name });
    }
    const probedQueues: string[] = [];
    for (const { topic, name } of replayedInto.values()) {
      const queue = table.queues(topic).find((candidate) => candidate.name === name);
      if (queue?.target !== 'WEBHOOK') continue;
      if (await circuit.probeNow(circuitTarget(topic, name))) probedQueues.push(name);
    }
    return { ...result, probedQueues };
  }

  return {
    keys,
    events,
    registry,
    /** Dead letters: page, get, replay, replayMany, discard, discardMany, sweep, repair (dead-letters.ts). */
    deadLetters: {
      ...deadLetters,
      replay: async (id: string, replayOptions?: ReplayOptions) =>
        probeReplayed(await deadLetters.replay(id, replayOptions), replayOptions?.toQueue ?? null),
      replayMany: async (filter: DeadLetterFilter, limit: number) =>
        probeReplayed(await deadLetters.replayMany(filter, limit), null),
    },
    /** API keys: create, list, revoke, authenticate, onRevoked (api-keys.ts). */
    apiKeys: security.apiKeys,
    /** The audit log of admin mutations (audit-log.ts). */
    auditLog: security.auditLog,
    /** Per-key token buckets shared by every instance, or null when rate limiting is off. */
    rateLimiter: security.rateLimiter,
    /** The webhook targets this engine allows besides public addresses. */
    webhookPolicy: security.webhookPolicy,
    /** A new signing secret for a webhook queue; the old one keeps signing for the configured grace period. */
    async rotateSigningSecret(topic: string, name: string) {
      const queue = await registry.rotateSigningSecret(topic, name, security.signingSecretGraceMs);
      await reconcile();
      return queue;
    },
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
    /** A webhook queue's circuit breaker: CLOSED, OPEN until a time, or HALF_OPEN while it probes. */
    circuit: (topic: string, name: string) => circuit.state(topic, name),
    /**
     * Closes a webhook queue's circuit breaker for every instance (an operator fixed the endpoint):
     * deliveries resume within a second. NOT_FOUND for no such queue; a CONSUMER queue has none.
     */
    async resetCircuit(topic: string, name: string) {
      const queue = await registry.requireQueue(topic, name);
      if (queue.target === 'WEBHOOK') await circuit.reset(circuitTarget(topic, name));
      return queue;
    },
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
      await deadLetters.dropQueue(topic, name);
      await circuit.drop(topic, name);
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
    /** Live tail of a topic (at-most-once, filtered like a binding), over every instance. */
    messages: live.messages,
    /** Delivery events as they happen on any instance. */
    deliveryEvents: live.deliveryEvents,
    /** A CONSUMER queue pushed with credits; ack with `ack`/`nack`. */
    consume: push.consume,
    /** Cluster-wide rates, latency percentiles, dead letters and queues, now. */
    stats: live.stats,
    /** The same, now and then every `intervalMs`. */
    statsStream: live.statsStream,
    /** This instance's `consume` subscribers and their unacked deliveries. */
    get consumeSize() {
      return push.size;
    },
    queueStats: (queue: Pick<QueueRecord, 'topic' | 'name'>) => queueStats(bullQueue(queue), commands),
    async topicStats(topic: string) {
      const [counters, queues] = await Promise.all([topicCounters(client, keys, topic), this.queues(topic)]);
      const failed = await Promise.all(queues.map((queue) => bullQueue(queue).getFailedCount()));
      return { ...counters, deadLettered: failed.reduce((sum, count) => sum + count, 0) };
    },
    /** True when Redis answers a PING now. */
    redisHealthy,
    /** The alerts firing now, over every instance (alerts.ts). */
    alerts: alerts.list,
    /** Evaluates the alerts now instead of at the next interval; answers what this instance announced. */
    evaluateAlerts: alerts.evaluate,
    /** Prometheus metrics of this instance and of every queue (docs/METRICS.md). */
    metrics: { contentType: metrics.contentType, render: metrics.render },
    get webhookWorkers() {
      return webhooks.size;
    },
    /** Stops taking work, lets in-flight deliveries finish, then closes every connection. Idempotent. */
    close(): Promise<void> {
      closed ??= (async () => {
        stopWatching();
        await alerts.close();
        await reconciling;
        // Consume streams first: their unacked deliveries go back before the consumer workers close,
        // and closing those ends the pumps' blocking fetches.
        const consumersClosed = push
          .close()
          .then(() => consumers.close())
          .then(() => push.idle());
        const results = await Promise.allSettled([webhooks.close(), consumersClosed, live.close()]);
        // After the workers: failures they finished while closing are indexed before the connection goes.
        results.push(...(await Promise.allSettled([deadLetters.close()])));
        results.push(...(await Promise.allSettled([security.close()])));
        await registry.close();
        await handles.close();
        metrics.close();
        await Promise.allSettled([client.quit(), subscriber.quit(), workerConnection.quit()]);
        const failure = results.find((result) => result.status === 'rejected');
        if (failure) throw failure.reason;
      })();
      return closed;
    },
  };
}

export type Engine = Awaited<ReturnType<typeof createEngine>>;
