import type { EventBus, Losses } from '../core/index.js';
import type { History } from '../history/index.js';
import type { Keys, QueueHandles, RedisClient, RedisTarget } from '../redis/index.js';
import { createPubSub, openRedis } from '../redis/index.js';
import type { Registry } from '../registry/index.js';
import { createLiveEvents, type LiveLimits } from './events.js';
import { createLiveInterest } from './interest.js';
import { createLiveStats } from './stats.js';

/** Settings of the live streams; all optional. */
export interface LiveOptions extends LiveLimits {
  /**
   * How far back `stats` rates and latency percentiles look.
   * @default 10000
   */
  statsWindowMs?: number;
  /**
   * How often each instance re-reads which live channels have listeners (see interest.ts).
   * @default 5000
   */
  interestRefreshMs?: number;
}

export interface LiveDeps {
  /** Where Redis is: the live streams open a subscriber connection of their own there. */
  redis: RedisTarget;
  /** Commands connection, shared with the engine. */
  client: RedisClient;
  keys: Keys;
  registry: Registry;
  handles: QueueHandles;
  events: EventBus;
  /** Counts what the `messages` streams drop for slow subscribers. @default not counted */
  losses?: Losses;
  /** Topic histories, for `messages` from a cursor or a time. @default none */
  history?: History;
  onError: (error: Error) => void;
}

/**
 * Everything live: the pub/sub bridge between instances (on a subscriber connection of its own, so
 * that the registry's is never blocked behind event traffic), the publisher's tap into it, the
 * `messages` and `deliveryEvents` streams, and cluster-wide stats.
 */
export async function createLive(deps: LiveDeps, options: LiveOptions = {}) {
  const { client, keys, registry, handles, events, onError } = deps;
  const subscriber = openRedis(deps.redis, { lazyConnect: true });
  subscriber.on('error', onError);
  await subscriber.connect();
  const pubsub = createPubSub(subscriber, onError);
  try {
    const interest = await createLiveInterest({
      client,
      pubsub,
      channels: keys.live,
      refreshMs: options.interestRefreshMs,
      onError,
    });
    const liveEvents = createLiveEvents({
      client,
      pubsub,
      interest,
      channels: keys.live,
      registry,
      events,
      limits: options,
      losses: deps.losses,
      history: deps.history,
      onError,
    });
    const stats = await createLiveStats({
      client,
      pubsub,
      channels: keys.live,
      events,
      windowMs: options.statsWindowMs,
      onError,
      async describe() {
        const table = await registry.table();
        const queues = table.topics().flatMap((topic) => table.queues(topic.name));
        const failed = await Promise.all(
          queues.map((queue) => handles.get(queue.topic, queue.name).getFailedCount()),
        );
        return { queues, deadLettered: failed.reduce((sum, count) => sum + count, 0) };
      },
    });
    let closing: Promise<void> | null = null;
    return {
      pubsub,
      tap: liveEvents.tap,
      messages: liveEvents.messages,
      deliveryEvents: liveEvents.deliveryEvents,
      stats: stats.snapshot,
      statsStream: stats.stream,
      /** Ends every live stream and closes the subscriber connection. Idempotent. */
      close(): Promise<void> {
        closing ??= (async () => {
          // The bridge first: the others' unsubscribes then have nothing left to send.
          pubsub.close();
          liveEvents.close();
          stats.close();
          interest.close();
          await subscriber.quit().catch(() => subscriber.disconnect());
        })();
        return closing;
      },
    };
  } catch (error) {
    pubsub.close();
    subscriber.disconnect();
    throw error;
  }
}

export type Live = Awaited<ReturnType<typeof createLive>>;
