import type { PubSub } from '../redis/index.js';
import { createLiveBuffer } from './buffer.js';
import { mapLive } from './iterator.js';

export interface LiveAlertsOptions<T> {
  /** Commands connection: announcements are PUBLISHed through it. */
  client: { publish(channel: string, message: string): Promise<unknown> };
  pubsub: PubSub;
  /** The channel every instance announces on (keys.live.alerts). */
  channel: string;
  /** Whether a payload received is an announcement; anything else is dropped. */
  accept: (payload: unknown) => payload is T;
  /**
   * Most announcements held for a subscriber that has not caught up; one more drops the oldest.
   * @default 1000
   */
  maxBuffered?: number;
  onError?: (error: Error) => void;
}

/**
 * Alert transitions between instances: the one instance that announces a transition (alerts.ts's
 * compare-and-set) publishes it once on a Redis channel, and each instance hands what it hears to its
 * own `alerts` subscribers. Transitions are rare, so they are published whether anyone listens or not.
 */
export function createLiveAlerts<T>(options: LiveAlertsOptions<T>) {
  const onError = options.onError ?? (() => {});
  const streams = new Set<{ end(): void }>();
  return {
    /** Sends one transition to the subscribers of every instance, this one included. */
    announce(transition: T): void {
      options.client.publish(options.channel, JSON.stringify(transition)).catch(onError);
    },
    /** The transitions announced from now on; resolves once this instance listens. */
    async stream(): Promise<AsyncIterableIterator<T>> {
      let stop = () => {};
      const buffer = createLiveBuffer<T>({
        maxItems: options.maxBuffered ?? 1000,
        onClose: () => {
          streams.delete(buffer);
          stop();
        },
      });
      streams.add(buffer);
      stop = await options.pubsub
        .listen(options.channel, (payload) => {
          if (options.accept(payload)) buffer.push(payload);
        })
        .catch(async (error: unknown) => {
          await buffer.return();
          throw error;
        });
      return mapLive(buffer, ({ item }) => item);
    },
    /** Ends every stream after what it holds. */
    close(): void {
      for (const stream of [...streams]) stream.end();
    },
  };
}

export type LiveAlerts<T> = ReturnType<typeof createLiveAlerts<T>>;
