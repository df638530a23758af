import type { Headers, QueueRecord, TopicRecord } from '../core/index.js';
import { QUEUE_DEFAULTS } from '../core/index.js';
import { answers, type Keys, type RedisClient } from '../redis/index.js';
import { createRoutingTable } from './router.js';

/**
 * One topic's routing as Redis held it at one routing version (keys.topicRouting), for publishing:
 * publish-commit applies a publish routed with it only while Redis still holds that version.
 */
export interface TopicRouting {
  /** The topic's routing version, read before its records, so the records are at least this new. */
  readonly version: string;
  readonly topic: TopicRecord;
  /** The topic's queues that accept the message, ordered by queue name. */
  route(routingKey: string | null, headers: Headers): QueueRecord[];
}

/** A stored queue record; those stored before maxPriority existed were priority queues of 0..9. */
export function parseQueue(json: string): QueueRecord {
  const queue = JSON.parse(json) as Partial<QueueRecord> & Omit<QueueRecord, 'maxPriority'>;
  return { ...queue, maxPriority: queue.maxPriority ?? QUEUE_DEFAULTS.maxPriority };
}

/**
 * Reads one topic's routing; null when Redis does not hold the topic. The version is read first and
 * the records after it: a change writes its records before it moves the version on, so records read
 * later are at least as new as the version. Records newer than their version are harmless (the
 * publish is refused and routed again); the other way round is what must never happen. Two round
 * trips, because on a Redis Cluster the version (the topic's slot) and the records (the registry's)
 * live on different slots.
 */
async function readTopicRouting(client: RedisClient, keys: Keys, name: string): Promise<TopicRouting | null> {
  const version = (await client.get(keys.topicRouting(name))) ?? '0';
  const [topicJson, queueHash] = answers(
    await client.pipeline().hget(keys.topics, name).hgetall(keys.topicQueues(name)).exec(),
  );
  if (typeof topicJson !== 'string') return null;
  const topic = JSON.parse(topicJson) as TopicRecord;
  const queues = Object.values(queueHash as Record<string, string>).map(parseQueue);
  const table = createRoutingTable([topic], queues);
  return { version, topic, route: (routingKey, headers) => table.route(name, routingKey, headers) };
}

interface Entry {
  readonly reading: Promise<TopicRouting | null>;
  /** What the read answered, once it has. */
  read?: TopicRouting | null;
}

/**
 * Each topic's routing with its version, read on first use and kept until an announcement names the
 * topic or a publish finds the version moved on. Concurrent first uses share one read; a topic Redis
 * does not hold, or a failed read, is not kept.
 */
export function createTopicRoutings(options: { client: RedisClient; keys: Keys }) {
  const { client, keys } = options;
  const entries = new Map<string, Entry>();

  function get(name: string): Promise<TopicRouting | null> {
    const known = entries.get(name);
    if (known) return known.reading;
    const entry: Entry = { reading: readTopicRouting(client, keys, name) };
    entries.set(name, entry);
    entry.reading.then(
      (routing) => {
        entry.read = routing;
        if (routing === null && entries.get(name) === entry) entries.delete(name);
      },
      () => {
        if (entries.get(name) === entry) entries.delete(name);
      },
    );
    return entry.reading;
  }

  return {
    get,
    /** Whether a routing of the topic is kept or being read. */
    has: (name: string): boolean => entries.has(name),
    /** The topic's kept routing once its read has answered; undefined while none is (or it is being read). */
    peek: (name: string): TopicRouting | undefined => entries.get(name)?.read ?? undefined,
    /** Drops what an announcement names ('' topic: everything). */
    drop(topic: string): void {
      if (topic === '') entries.clear();
      else entries.delete(topic);
    },
    /**
     * A publish routed at `version` was refused: Redis holds another version now. Drops the kept
     * routing if it is still that version; one read since (another refused publish's, or one started
     * meanwhile) is kept, so the publishes refused together share one read.
     */
    moved(name: string, version: string): void {
      const read = entries.get(name)?.read;
      if (read === null || (read !== undefined && read.version === version)) entries.delete(name);
    },
  };
}

export type TopicRoutings = ReturnType<typeof createTopicRoutings>;
