/**
 * Every Redis key and channel Switchyard uses, from one place.
 *
 * Redis Cluster: all keys of one topic, its queues' BullMQ keys included, share the hash tag
 * `{t:<topic>}`, so a publish's single MULTI stays in one slot. The registry has its own tag.
 * Topic and queue names are [A-Za-z0-9._-], so they can never contain a brace or BullMQ's ':'.
 */
export interface Keys {
  /** Hash: topic name -> TopicRecord JSON. */
  topics: string;
  /** Hash: queue name -> QueueRecord JSON, one per topic. */
  topicQueues(topic: string): string;
  /** Pub/sub channel announcing registry changes, so every instance drops its cached routing table. */
  registryChannel: string;
  /** BullMQ `prefix` for the queues of a topic; the BullMQ queue name is the queue's own name. */
  bullPrefix(topic: string): string;
  /** Hash of counters for a topic: published, unrouted. */
  topicStats(topic: string): string;
  /** String: idempotency key -> message id (or a pending claim) for the dedup window. */
  idempotency(topic: string, key: string): string;
}

export function createKeys(prefix = 'sy'): Keys {
  const registry = `${prefix}:{registry}`;
  const topicTag = (topic: string) => `${prefix}:{t:${topic}}`;
  return {
    topics: `${registry}:topics`,
    topicQueues: (topic) => `${registry}:queues:${topic}`,
    registryChannel: `${prefix}:registry:changed`,
    bullPrefix: topicTag,
    topicStats: (topic) => `${topicTag(topic)}:stats`,
    idempotency: (topic, key) => `${topicTag(topic)}:idem:${key}`,
  };
}
