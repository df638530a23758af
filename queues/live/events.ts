import type { DeliveryEvent, EventBus, Losses, MessageRecord } from '../core/index.js';
import { assertName, badInput, MiB, notFound } from '../core/index.js';
import type { History, HistoryStart } from '../history/index.js';
import type { LiveWrites } from '../publish/index.js';
import type { LiveChannels, PubSub, RedisClient } from '../redis/index.js';
import type { Registry } from '../registry/index.js';
import { createLiveBuffer, type LiveBuffer, type LiveBufferOptions } from './buffer.js';
import { compileLiveFilter, type LiveMessageFilter } from './filter.js';
import { CATCH_UP_PAGE, historyThenLive } from './history-tail.js';
import type { LiveInterest } from './interest.js';
import { mapLive } from './iterator.js';

/** How much a live subscriber that does not keep up may have waiting for it. */
export interface LiveLimits {
  /**
   * Messages held per `messages` subscription; beyond it the oldest are dropped and counted.
   * @default 1000
   */
  maxBufferedMessages?: number;
  /**
   * Payload bytes (Message.sizeBytes) held per `messages` subscription, the same way.
   * @default 4 MiB
   */
  maxBufferedBytes?: number;
  /**
   * Events held per `deliveryEvents` subscription, the same way.
   * @default 1000
   */
  maxBufferedEvents?: number;
}

/** A message of the live tail, with how many this subscriber lost just before it. */
export type LiveMessage = MessageRecord & { droppedBefore: number };
/** A delivery event of a live stream, with how many this subscriber lost just before it. */
export type LiveDeliveryEvent = DeliveryEvent & { droppedBefore: number };

export interface LiveEventsOptions {
  /** Commands connection: delivery events are PUBLISHed through it. */
  client: RedisClient;
  pubsub: PubSub;
  interest: LiveInterest;
  channels: LiveChannels;
  registry: Registry;
  /** This instance's delivery events, forwarded to the other instances. */
  events: EventBus;
  limits?: LiveLimits;
  /** Counts what a slow subscriber's stream drops (queues/core/losses.ts). @default not counted */
  losses?: Losses;
  /** Topic histories, for `messages` from a cursor or a time. @default none: such a stream is refused */
  history?: History;
  onError?: (error: Error) => void;
}

const isMessage = (value: unknown): value is MessageRecord =>
  typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string';

const isEvent = (value: unknown): value is DeliveryEvent =>
  typeof value === 'object' && value !== null && typeof (value as { kind?: unknown }).kind === 'string';

export const publishedEvent = (message: MessageRecord): DeliveryEvent => ({
  kind: 'PUBLISHED',
  at: message.publishedAt,
  topic: message.topic,
  queue: null,
  messageId: message.id,
  attempt: null,
  reason: null,
  error: null,
});

/** Every open stream, so close() can end them. */
type Streams = Set<{ end(): void }>;

/** Listens on a channel and, for the first listener here, tells the publishers at once. */
async function listen(
  { pubsub, interest }: LiveEventsOptions,
  channel: string,
  listener: (payload: unknown) => void,
): Promise<() => void> {
  const stop = await pubsub.listen(channel, listener);
  try {
    // The first listener here may be the first anywhere: publishers must hear of it now, not at their
    // next PUBSUB CHANNELS read.
    if (pubsub.listeners(channel) === 1 || !interest.wants(channel)) await interest.announce(channel);
  } catch (error) {
    stop();
    throw error;
  }
  return stop;
}

/**
 * A stream's buffer, among the open streams until it closes, fed by `subscribe`; closing it stops
 * listening. A failed subscription closes it and rejects.
 */
async function openStream<T>(
  streams: Streams,
  bufferOptions: LiveBufferOptions<T>,
  subscribe: (buffer: LiveBuffer<T>) => Promise<() => void>,
): Promise<LiveBuffer<T>> {
  let stop = () => {};
  const buffer = createLiveBuffer<T>({
    ...bufferOptions,
    onClose: () => {
      streams.delete(buffer);
      stop();
    },
  });
  streams.add(buffer);
  stop = await subscribe(buffer).catch(async (error: unknown) => {
    await buffer.return();
    throw error;
  });
  return buffer;
}

async function requireTopic(registry: Registry, name: string) {
  assertName('topic', name);
  const topic = (await registry.tableKnowing([{ topic: name }])).topic(name);
  if (!topic) throw notFound(`Topic ${name} does not exist`);
  return topic;
}

/** Adds a stored message's live publishes to its publish's writes, for the channels someone hears. */
function appendLive(
  { channels, interest }: LiveEventsOptions,
  writes: LiveWrites,
  message: MessageRecord,
): void {
  const messages = channels.messages(message.topic);
  if (interest.wants(messages)) writes.publish(messages, JSON.stringify(message), true);
  const targets = [channels.events(message.topic), channels.allEvents].filter((channel) =>
    interest.wants(channel),
  );
  if (targets.length === 0) return;
  const json = JSON.stringify(publishedEvent(message));
  for (const channel of targets) writes.publish(channel, json);
}

/**
 * The live tail of a topic, filtered like a queue binding; from a cursor or a time, the history
 * first. Subscribed to the live messages before the history read, so there is no gap (history-tail.ts).
 */
async function liveMessages(
  options: LiveEventsOptions,
  streams: Streams,
  topicName: string,
  filter: LiveMessageFilter,
  start: HistoryStart,
): Promise<AsyncIterableIterator<LiveMessage>> {
  const topic = await requireTopic(options.registry, topicName);
  const matches = compileLiveFilter(topic, filter);
  const fromHistory = start.after != null || start.from != null;
  if (fromHistory && !options.history) throw badInput('This engine reads no topic history');
  const buffer = await openStream<MessageRecord>(
    streams,
    {
      maxItems: options.limits?.maxBufferedMessages ?? 1000,
      maxBytes: options.limits?.maxBufferedBytes ?? 4 * MiB,
      sizeOf: (message) => message.sizeBytes,
      onDrop: () => options.losses?.count(topic.name, null, 'live_dropped'),
    },
    (live) =>
      listen(options, options.channels.messages(topic.name), (payload) => {
        // From history, every message counts (its cursor moves the seam on): the tail filters.
        if (isMessage(payload) && (fromHistory || matches(payload))) live.push(payload);
      }),
  );
  if (!fromHistory || !options.history) {
    return mapLive(buffer, ({ item, droppedBefore }) => ({ ...item, droppedBefore }));
  }
  const history = options.history;
  const firstPage = await history.read(topic, start, CATCH_UP_PAGE).catch(async (error: unknown) => {
    await buffer.return();
    throw error;
  });
  return historyThenLive({ history, topic, start, live: buffer, matches, firstPage });
}

/** Delivery events from now on, of one topic (and queue) or of all. */
async function liveDeliveryEvents(
  options: LiveEventsOptions,
  streams: Streams,
  filter: { topic?: string | null; queue?: string | null },
): Promise<AsyncIterableIterator<LiveDeliveryEvent>> {
  const topic = filter.topic ?? null;
  const queue = filter.queue ?? null;
  if (topic !== null) await requireTopic(options.registry, topic);
  if (queue !== null) assertName('queue', queue);
  const { channels } = options;
  const buffer = await openStream<DeliveryEvent>(
    streams,
    { maxItems: options.limits?.maxBufferedEvents ?? 1000 },
    (live) =>
      listen(options, topic === null ? channels.allEvents : channels.events(topic), (payload) => {
        if (!isEvent(payload)) return;
        if (queue !== null && payload.queue !== queue) return;
        live.push(payload);
      }),
  );
  return mapLive(buffer, ({ item, droppedBefore }) => ({ ...item, droppedBefore }));
}

/**
 * The live streams between gateway instances over Redis pub/sub: messages as they are published
 * (`messages`) and delivery events as they happen (`deliveryEvents`), one channel per topic.
 * Everything goes through Redis, this instance's own events too, so every subscriber sees one order
 * whichever instance it is connected to. Nothing is sent for a channel no instance listens to.
 */
export function createLiveEvents(options: LiveEventsOptions) {
  const { client, interest, channels } = options;
  const onError = options.onError ?? (() => {});
  const streams: Streams = new Set();

  // PUBLISHED is sent inside the publish transaction (see `tap`), so it can never trail a DELIVERED.
  const stopForwarding = options.events.on((event) => {
    if (event.kind === 'PUBLISHED') return;
    const targets = [channels.events(event.topic), channels.allEvents].filter((channel) =>
      interest.wants(channel),
    );
    if (targets.length === 0) return;
    const json = JSON.stringify(event);
    for (const channel of targets) client.publish(channel, json).catch(onError);
  });

  return {
    /** What the publisher adds to its transaction so the live streams see a message iff it is stored. */
    tap: {
      append: (writes: LiveWrites, message: MessageRecord): void => appendLive(options, writes, message),
    },

    /**
     * The live tail of a topic from now on, filtered like a queue binding. At-most-once: a subscriber
     * that falls behind loses the oldest messages, and the next one it gets says how many.
     */
    messages: (topicName: string, filter: LiveMessageFilter = {}, start: HistoryStart = {}) =>
      liveMessages(options, streams, topicName, filter, start),

    /** Delivery events from now on, of one topic (and queue) or of all. Lossy like `messages`. */
    deliveryEvents: (filter: { topic?: string | null; queue?: string | null } = {}) =>
      liveDeliveryEvents(options, streams, filter),

    /** Stops forwarding this instance's events and ends every stream (after what they hold). */
    close(): void {
      stopForwarding();
      for (const stream of [...streams]) stream.end();
    },
  };
}

export type LiveEvents = ReturnType<typeof createLiveEvents>;
