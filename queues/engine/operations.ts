import type { QueueRecord } from '../core/index.js';
import {
  assertInt,
  badInput,
  notFound,
  parseHeaders,
  tracePublish,
  tracePublishBatch,
} from '../core/index.js';
import { MAX_REQUEST_TIMEOUT_MS, type Reply } from '../delivery/index.js';
import { publishedEvent } from '../live/index.js';
import type { PublishInput, PublishResult } from '../publish/index.js';
import type { CreateQueueInput, CreateTopicInput, QueueSettingsInput } from '../registry/index.js';
import { queueStats, topicCounters } from '../stats/index.js';
import { type DeleteQueueSettings, deleteQueue } from './delete-queue.js';
import type { Monitoring } from './monitoring.js';
import type { Parts } from './parts.js';

/** How long a request waits for its reply unless told otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/** Topics and queues: the registry, with this instance's workers following each change. */
export function topologyOperations(
  parts: Parts,
  reconcile: () => Promise<void>,
  deleteSettings: DeleteQueueSettings,
) {
  const { registry, security, circuit, bullQueue } = parts;
  async function setPaused(topic: string, name: string, paused: boolean): Promise<QueueRecord> {
    const queue = await registry.requireQueue(topic, name);
    // BullMQ's own flag is what stops every instance's workers; the registry copy is for reading.
    if (paused) await bullQueue(queue).pause();
    else await bullQueue(queue).resume();
    return registry.setPaused(topic, name, paused);
  }

  return {
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
      return (await registry.tableKnowing([{ topic: name }])).topic(name) ?? null;
    },
    async queues(topic: string) {
      return (await registry.table()).queues(topic);
    },
    queue: (topic: string, name: string) => registry.getQueue(topic, name),
    /** A webhook queue's circuit breaker: CLOSED, OPEN until a time, or HALF_OPEN while it probes. */
    circuit: (topic: string, name: string) => circuit.state(topic, name),
    // Both wait for this instance's workers to follow, so the next publish meets the new settings.
    async createQueue(input: CreateQueueInput) {
      const queue = await registry.createQueue(input);
      // Here, once: the handles write none when they open (queue-handles.ts).
      await parts.handles.writeMeta(queue.topic, queue.name);
      await reconcile();
      return queue;
    },
    async updateQueue(topic: string, name: string, input: QueueSettingsInput) {
      const queue = await registry.updateQueue(topic, name, input);
      await reconcile();
      return queue;
    },
    /** Waits (bounded) for other instances' workers on the queue to stop before removing its keys. */
    deleteQueue: (topic: string, name: string): Promise<void> =>
      deleteQueue(parts, reconcile, deleteSettings, topic, name),
    pauseQueue: (topic: string, name: string) => setPaused(topic, name, true),
    resumeQueue: (topic: string, name: string) => setPaused(topic, name, false),
  };
}

/** What a publish span records of its result (core/trace.ts). */
const publishedAttributes = (result: PublishResult) => ({
  'messaging.message.id': result.messageId,
  'switchyard.routed_to': result.routedTo.length,
});

/** Publishing, receiving and the live streams. */
export function messagingOperations(parts: Parts) {
  const { events, publisher, consumers, live, push, keys, registry, requests } = parts;
  function announcePublished(results: PublishResult[]): void {
    for (const { message, routedTo } of results) {
      if (message && routedTo.length === 0) parts.losses.count(message.topic, null, 'unrouted');
    }
    if (events.size === 0) return;
    for (const { message } of results) if (message) events.emit(publishedEvent(message));
  }
  /** {@link announcePublished} of a single publish, without a list made for it. */
  function announceOne({ message, routedTo }: PublishResult): void {
    if (!message) return;
    if (routedTo.length === 0) parts.losses.count(message.topic, null, 'unrouted');
    if (events.size > 0) events.emit(publishedEvent(message));
  }
  /** publisher.publish as tracePublish calls it, made once instead of a closure per publish. */
  const publishOne = (input: PublishInput) => publisher.publish(input);

  /** Reply addresses are the gateway's own: a publish cannot forge one. */
  function refuseReplyAddress(input: PublishInput, field: string): void {
    if (input.replyTo?.startsWith(keys.replies.addressPrefix)) {
      throw badInput(
        `${field} must not start with ${keys.replies.addressPrefix}: such addresses are the gateway's own`,
        {
          field,
        },
      );
    }
  }

  return {
    async publish(input: PublishInput): Promise<PublishResult> {
      refuseReplyAddress(input, 'replyTo');
      const result = await tracePublish(input, publishOne, publishedAttributes);
      announceOne(result);
      return result;
    },
    /**
     * Publishes like `publish` with a reply address of this instance's own and waits for the first
     * reply: TIMEOUT when none comes within `timeoutMs`, NOT_FOUND at once when no queue would
     * receive it, UNAVAILABLE when this engine closes first (docs/PATTERNS.md).
     */
    async request(input: PublishInput, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<Reply> {
      requests.assertOpen();
      assertInt('timeoutMs', timeoutMs, 1, MAX_REQUEST_TIMEOUT_MS);
      if (input.replyTo != null) {
        throw badInput('A request sets its own replyTo: leave it out', { field: 'replyTo' });
      }
      // Routed before anything is stored: a request nothing can answer is refused, not published.
      // With the topic's routing as publishing reads it, so a queue just bound on another instance counts.
      const routing = (await registry.routingOf([input.topic])).get(input.topic);
      if (!routing) throw notFound(`Topic ${input.topic} does not exist`);
      const routed = routing.route(input.routingKey ?? null, parseHeaders('headers', input.headers));
      if (routed.length === 0) {
        throw notFound(
          `No queue of topic ${input.topic} matches this request's routing key and headers: nothing could answer it`,
        );
      }
      return requests.request(timeoutMs, async (replyTo, requestId) => {
        const result = await tracePublish(
          { ...input, replyTo, correlationId: input.correlationId ?? requestId },
          (traced) => publisher.publish(traced),
          publishedAttributes,
        );
        announcePublished([result]);
        return result;
      });
    },
    async publishBatch(inputs: PublishInput[]): Promise<PublishResult[]> {
      for (const [index, input] of inputs.entries()) refuseReplyAddress(input, `inputs[${index}].replyTo`);
      const results = await tracePublishBatch(
        inputs,
        (traced) => publisher.publishBatch(traced),
        publishedAttributes,
      );
      announcePublished(results);
      return results;
    },
    receive: consumers.receive,
    ack: consumers.ack,
    /** Acks several deliveries in one write to Redis; each one's outcome, true or its error. */
    ackMany: consumers.ackMany,
    /** Answers a request delivered to a CONSUMER queue, and acks the delivery. */
    reply: consumers.reply,
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
  };
}

/** Stats, health, alerts and metrics. */
export function statsOperations(parts: Parts, monitoring: Monitoring) {
  const { client, keys, registry, commands, bullQueue } = parts;
  const { redisHealthy, alerts, metrics } = monitoring;
  return {
    queueStats: (queue: Pick<QueueRecord, 'topic' | 'name'>) =>
      queueStats(bullQueue(queue), commands, parts.webhooks.concurrencyOf(queue)),
    async topicStats(topic: string) {
      const [counters, queues] = await Promise.all([
        topicCounters(client, keys, topic),
        registry.table().then((table) => table.queues(topic)),
      ]);
      const failed = await Promise.all(queues.map((queue) => bullQueue(queue).getFailedCount()));
      return { ...counters, deadLettered: failed.reduce((sum, count) => sum + count, 0) };
    },
    /** True when Redis answers a PING now. */
    redisHealthy,
    /** The alerts firing now, over every instance (alerts.ts). */
    alerts: alerts.list,
    /** Evaluates the alerts now instead of at the next interval; answers what this instance announced. */
    evaluateAlerts: alerts.evaluate,
    /** Alert transitions as any instance announces them (Subscription.alerts). */
    alertsStream: alerts.stream,
    /** Prometheus metrics of this instance and of every queue (docs/METRICS.md). */
    metrics: { contentType: metrics.contentType, render: metrics.render },
  };
}
