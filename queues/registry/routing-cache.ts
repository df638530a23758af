import type { QueueRecord, TopicRecord } from '../core/index.js';
import type { Keys, RedisClient } from '../redis/index.js';
import { createRoutingTable, type RoutingTable } from './router.js';
import { createTopicRoutings, parseQueue, type TopicRouting } from './topic-routing.js';
import { createUnknownNames, type UnknownNamesOptions } from './unknown-names.js';

/** What changed in the registry: a topic, or one queue of it ('' topic: anything, reload all). */
export type RegistryChange = { topic: string; queue?: string };

/**
 * The routing table, read from Redis and cached in memory, dropped whenever any instance announces a
 * change (on the registry channel) and whenever the subscriber reconnects. Publishes route with each
 * topic's routing read at its routing version instead (topic-routing.ts, `routingOf`), which
 * publish-commit checks, so they never depend on an announcement having arrived.
 */
export function createRoutingCache(
  options: { client: RedisClient; subscriber: RedisClient; keys: Keys } & Pick<
    UnknownNamesOptions,
    'unknownForMs'
  >,
) {
  const { client, subscriber, keys } = options;
  const listeners = new Set<(change: RegistryChange) => void>();
  let cached: Promise<RoutingTable> | null = null;
  let generation = 0;
  const routings = createTopicRoutings({ client, keys });
  const unknownNames = createUnknownNames({
    client,
    keys,
    table,
    invalidateLocally: (change) => invalidate(change),
    unknownForMs: options.unknownForMs,
  });

  const invalidate = (change: RegistryChange) => {
    generation++;
    cached = null;
    routings.drop(change.topic);
    unknownNames.forget(change);
    for (const listener of listeners) listener(change);
  };

  const onMessage = (channel: string, message: string) => {
    if (channel !== keys.registryChannel) return;
    try {
      invalidate(JSON.parse(message) as RegistryChange);
    } catch {
      invalidate({ topic: '' });
    }
  };
  subscriber.on('message', onMessage);
  // Announcements sent while the subscriber was reconnecting are lost: start from a fresh read.
  const onReconnect = () => invalidate({ topic: '' });
  subscriber.on('ready', onReconnect);
  const subscribed = subscriber.subscribe(keys.registryChannel);

  async function announce(change: RegistryChange): Promise<void> {
    invalidate(change);
    await client.publish(keys.registryChannel, JSON.stringify(change));
  }

  async function load(): Promise<RoutingTable> {
    const topicHash = await client.hgetall(keys.topics);
    const topics = Object.values(topicHash).map((json) => JSON.parse(json) as TopicRecord);
    const pipeline = client.pipeline();
    for (const topic of topics) pipeline.hgetall(keys.topicQueues(topic.name));
    const results = topics.length > 0 ? ((await pipeline.exec()) ?? []) : [];
    const queues: QueueRecord[] = [];
    for (const [error, hash] of results) {
      if (error) throw error;
      for (const json of Object.values(hash as Record<string, string>)) queues.push(parseQueue(json));
    }
    return createRoutingTable(topics, queues);
  }

  /** The cached routing table; a load racing an invalidation is discarded, not cached. */
  function table(): Promise<RoutingTable> {
    if (cached) return cached;
    const startedAt = generation;
    const loading = load();
    cached = loading;
    loading.then(
      () => {
        if (generation !== startedAt && cached === loading) cached = null;
      },
      () => {
        if (cached === loading) cached = null;
      },
    );
    return loading;
  }

  /**
   * The routing of each named topic Redis holds, with the version it was read at; a topic it does not
   * hold is left out. A topic not routed here before goes through the table first, so a name Redis
   * does not hold costs what it did (unknown-names.ts), not a read per publish.
   */
  async function routingOf(names: readonly string[]): Promise<Map<string, TopicRouting>> {
    const unique = [...new Set(names)];
    const unheard = unique.filter((name) => !routings.has(name));
    const known =
      unheard.length === 0 ? null : await unknownNames.tableKnowing(unheard.map((topic) => ({ topic })));
    const wanted = unique.filter((name) => !unheard.includes(name) || known?.topic(name) !== undefined);
    const read = await Promise.all(wanted.map((name) => routings.get(name)));
    const found = new Map<string, TopicRouting>();
    read.forEach((routing, index) => {
      const name = wanted[index] as string;
      if (routing) found.set(name, routing);
      // Gone from Redis while the table still holds it (its deletion not announced here yet): the
      // table is read again, so the name's misses go through unknown-names from now on.
      else invalidate({ topic: name });
    });
    return found;
  }

  /**
   * What routingOf would answer when every named topic's routing is already read here, without a
   * promise; null when one is not (routingOf then reads it). A publish of a known topic, nearly every
   * publish, so skips routingOf's promises and its lists (docs/PERFORMANCE.md).
   */
  function routingKnown(names: readonly string[]): Map<string, TopicRouting> | null {
    const found = new Map<string, TopicRouting>();
    for (const name of names) {
      const routing = routings.peek(name);
      if (routing === undefined) return null;
      found.set(name, routing);
    }
    return found;
  }

  return {
    table,
    routingOf,
    routingKnown,
    /** A publish routed with this version of the topic was refused: read the topic's routing again. */
    routingMoved: routings.moved,
    /** The table, read again first when it lacks a wanted name that Redis holds (unknown-names.ts). */
    tableKnowing: unknownNames.tableKnowing,
    /** Drops the cached table here and tells every other instance to drop theirs. */
    announce,
    /** Calls back on every change seen, local or from another instance. Returns an unsubscribe. */
    onChange(listener: (change: RegistryChange) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** Resolves once this instance listens for other instances' changes. */
    ready: () => subscribed.then(() => undefined),
    async close(): Promise<void> {
      subscriber.off('message', onMessage);
      subscriber.off('ready', onReconnect);
      listeners.clear();
    },
  };
}
