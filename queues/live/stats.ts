import { randomUUID } from 'node:crypto';
import type { QueueRecord } from '../core/index.js';
import { assertInt, type DeliveryEventKind, type EventBus, FAILED_ATTEMPT_KINDS } from '../core/index.js';
import type { LiveChannels, PubSub, RedisClient } from '../redis/index.js';
import { createLiveBuffer } from './buffer.js';
import { mapLive } from './iterator.js';
import {
  createStatsWindow,
  type StatsCounter,
  type StatsFigures,
  type StatsSummary,
} from './stats-window.js';

/** What Query.stats and Subscription.stats answer. */
export interface StatsSnapshot extends StatsFigures {
  at: string;
  /** Dead letters now, over every queue. */
  deadLettered: number;
  /** Every queue; their depths are read when a client selects them. */
  queues: QueueRecord[];
}

export interface LiveStatsOptions {
  /** Commands connection: this instance's summaries are PUBLISHed through it. */
  client: RedisClient;
  pubsub: PubSub;
  channels: LiveChannels;
  events: EventBus;
  /** Every queue and the dead letters over them, read for each snapshot. */
  describe: () => Promise<{ queues: QueueRecord[]; deadLettered: number }>;
  /**
   * How far back the rates and percentiles look.
   * @default 10000
   */
  windowMs?: number;
  /**
   * How often each instance sends its counts to the others (and the window's granularity).
   * @default 1000
   */
  bucketMs?: number;
  onError?: (error: Error) => void;
}

/** `stats(intervalMs)` is refused outside these bounds. */
export const STATS_INTERVAL_LIMITS = { min: 100, max: 60_000 } as const;

const COUNTERS: Partial<Record<DeliveryEventKind, StatsCounter>> = {
  PUBLISHED: 'published',
  DELIVERED: 'delivered',
  ...Object.fromEntries(FAILED_ATTEMPT_KINDS.map((kind) => [kind, 'failed'])),
};

interface Envelope extends StatsSummary {
  from: string;
}

const isEnvelope = (value: unknown): value is Envelope =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { from?: unknown }).from === 'string' &&
  Array.isArray((value as { latency?: unknown }).latency);

/**
 * Cluster-wide rates and latency percentiles. Each instance counts its own events (what it published,
 * what its workers and consumers delivered or failed) and, once per bucket, sends those counts with
 * a latency histogram to every other instance; each instance adds what it receives to its own
 * window. So every instance answers for the whole cluster, at the cost of one small message per
 * instance per second, however many messages flow. Another instance's counts arrive up to a bucket late.
 */
export async function createLiveStats(options: LiveStatsOptions) {
  const { client, channels } = options;
  const onError = options.onError ?? (() => {});
  const bucketMs = options.bucketMs ?? 1_000;
  const window = createStatsWindow({ windowMs: options.windowMs ?? 10_000, bucketMs });
  const instance = randomUUID();

  const stopCounting = options.events.on((event) => {
    const counter = COUNTERS[event.kind];
    if (counter) window.record(counter, counter === 'delivered' ? event.latencyMs : undefined);
  });
  const stopListening = await options.pubsub.listen(channels.stats, (payload) => {
    if (isEnvelope(payload) && payload.from !== instance) window.merge(payload);
  });
  const timer = setInterval(() => {
    const summary = window.drainOwn();
    if (!summary) return;
    client.publish(channels.stats, JSON.stringify({ from: instance, ...summary })).catch(onError);
  }, bucketMs);
  timer.unref();

  async function snapshot(): Promise<StatsSnapshot> {
    const { queues, deadLettered } = await options.describe();
    return { at: new Date().toISOString(), ...window.figures(), deadLettered, queues };
  }

  const streams = new Set<() => void>();

  return {
    snapshot,
    /** A snapshot now and then every `intervalMs`; a reader that falls behind gets only the latest. */
    stream(intervalMs: number): AsyncIterableIterator<StatsSnapshot> {
      assertInt('intervalMs', intervalMs, STATS_INTERVAL_LIMITS.min, STATS_INTERVAL_LIMITS.max);
      let busy = false;
      const tick = () => {
        // A slow Redis must not pile snapshots up behind one another.
        if (busy) return;
        busy = true;
        snapshot()
          .then((value) => buffer.push(value))
          .catch(onError)
          .finally(() => {
            busy = false;
          });
      };
      const timer = setInterval(tick, intervalMs);
      const end = () => buffer.end();
      const buffer = createLiveBuffer<StatsSnapshot>({
        maxItems: 1,
        onClose: () => {
          clearInterval(timer);
          streams.delete(end);
        },
      });
      streams.add(end);
      tick();
      return mapLive(buffer, ({ item }) => item);
    },
    close(): void {
      clearInterval(timer);
      stopCounting();
      stopListening();
      for (const end of [...streams]) end();
    },
  };
}

export type LiveStats = Awaited<ReturnType<typeof createLiveStats>>;
