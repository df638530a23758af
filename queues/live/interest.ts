import { Cluster } from 'ioredis';
import type { LiveChannels, PubSub, RedisClient } from '../redis/index.js';

export interface LiveInterestOptions {
  /** Commands connection: PUBSUB CHANNELS and the announcements go through it. */
  client: RedisClient;
  pubsub: PubSub;
  channels: LiveChannels;
  /**
   * How often the set of listened channels is read back from Redis (PUBSUB CHANNELS). Between two
   * reads, new listeners are learned at once from announcements; a channel nobody listens to any more
   * is only forgotten at the next read, so a publisher sends to it for at most this long in vain.
   * @default 5000
   */
  refreshMs?: number;
  onError?: (error: Error) => void;
}

/**
 * Which live channels have a listener on some gateway instance, so that a publisher only sends what
 * someone will receive: a message published to a topic nobody tails costs no extra bytes.
 *
 * The truth is Redis's own list of channels with subscribers (PUBSUB CHANNELS), read at start and
 * then every `refreshMs`. An instance that starts listening on a channel also announces it on the
 * interest channel right after its SUBSCRIBE, so every publisher learns it within a round trip
 * instead of at the next read.
 */
/**
 * The channels matching `pattern` that have a subscriber. On a Redis Cluster PUBSUB CHANNELS answers
 * only for the node it is sent to (PUBLISH is broadcast, but each subscriber is connected to one
 * node, a master or a replica), so every node is asked and the answers are joined.
 */
async function listenedChannels(client: RedisClient, pattern: string): Promise<string[]> {
  if (!(client instanceof Cluster)) return (await client.pubsub('CHANNELS', pattern)) as string[];
  // A node that does not answer (failing over) has no subscriber to count.
  const answers = await Promise.allSettled(
    client.nodes('all').map((node) => node.pubsub('CHANNELS', pattern) as Promise<string[]>),
  );
  return answers.flatMap((answer) => (answer.status === 'fulfilled' ? answer.value : []));
}

export async function createLiveInterest(options: LiveInterestOptions) {
  const { client, pubsub, channels } = options;
  const onError = options.onError ?? (() => {});
  let known = new Set<string>();
  /** When each announcement arrived, so a read that was already under way cannot undo it. */
  const announcedAt = new Map<string, number>();
  let closed = false;

  const stopAnnouncements = await pubsub.listen(channels.interest, (payload) => {
    if (typeof payload !== 'string') return;
    known.add(payload);
    announcedAt.set(payload, Date.now());
  });

  async function refresh(): Promise<void> {
    const sentAt = Date.now();
    const next = new Set(await listenedChannels(client, channels.pattern));
    for (const [channel, at] of announcedAt) {
      if (at >= sentAt) next.add(channel);
      else announcedAt.delete(channel);
    }
    known = next;
  }

  await refresh();
  const timer = setInterval(() => {
    if (closed) return;
    refresh().catch(onError);
  }, options.refreshMs ?? 5_000);
  timer.unref();

  return {
    /** True when some instance may listen on `channel`. */
    wants(channel: string): boolean {
      return known.has(channel);
    },
    /** Tells every instance that `channel` has a listener now; call after the SUBSCRIBE is confirmed. */
    async announce(channel: string): Promise<void> {
      known.add(channel);
      await client.publish(channels.interest, JSON.stringify(channel));
    },
    close(): void {
      closed = true;
      clearInterval(timer);
      stopAnnouncements();
    },
  };
}

export type LiveInterest = Awaited<ReturnType<typeof createLiveInterest>>;
