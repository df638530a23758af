import { ENGINE_DEFAULTS } from '../core/index.js';
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
  /** BullMQ's own keys of one queue, as its `Queue.toKey` names them, for reads and Lua without a handle. */
  bull(topic: string, queue: string): BullKeys;
  /**
   * Stream: a topic's history (queues/history/), one entry per stored publish, field `m` the message JSON
   * its jobs store; written by publish-commit in the publish's own call, trimmed there by the topic's
   * maxMessages and maxAgeMs.
   */
  topicHistory(topic: string): string;
  /**
   * Hash: a topic history's index, message id -> stream id of its entry, so `message(topic, id)` reads
   * one entry instead of scanning; written and trimmed with the history by publish-commit (and
   * history-trim), plus field `~since`: the stream id of the first entry it indexed (older entries,
   * written before the index existed, are found by a scan of that older part).
   */
  topicHistoryIds(topic: string): string;
  /** Replay tasks of topic histories (queues/history/replay-tasks.ts). */
  replayTasks: ReplayTaskKeys;
  /**
   * List: a message's provenance trail, one JSON entry per step, oldest first (docs/PROVENANCE.md);
   * appended by each step's own call, expiring a retention after its last step.
   */
  trail(topic: string, messageId: string): string;
  /** Hash of counters for a topic: published, unrouted. */
  topicStats(topic: string): string;
  /**
   * String: the topic's routing version, an INCR counter moved on by every change to the topic's
   * record or its queues' records, after the change is written (queues/registry/registry.ts).
   * publish-commit refuses a publish routed at another version (docs/SCALING.md). Never deleted, not
   * even with its topic: a topic created again under the name must not meet a version an instance
   * cached for the old one.
   */
  topicRouting(topic: string): string;
  /** Hash: a webhook queue's circuit breaker (queues/delivery/circuit-breaker.ts); absent while closed and clean. */
  circuit(topic: string, queue: string): string;
  /** String: idempotency key -> message id (or a pending claim) for the dedup window. */
  idempotency(topic: string, key: string): string;
  /** Hash: API key id -> ApiKey JSON (with the secret's hash, never the secret). */
  apiKeys: string;
  /** Hash: SHA-256 of an API key secret -> ApiKey JSON, so authenticating is one HGET. */
  apiKeyHashes: string;
  /** Hash: API key id -> when it was last used (ISO), written at most once a minute per key and instance. */
  apiKeyLastUsed: string;
  /** Pub/sub channel announcing a revoked key's id, so every instance ends its open subscriptions. */
  apiKeyRevokedChannel: string;
  /** String: INCR counter giving each API key its creation order (`apiKeys` lists oldest first, exactly). */
  apiKeySequence: string;
  /**
   * Hash: one token bucket (tokens, ts) per API key. A tag of its own per key, so that under Redis
   * Cluster the buckets (touched on every request) spread over the slots instead of piling on one.
   */
  rateBucket(keyId: string): string;
  /** Stream: the audit log of admin mutations, capped by length and age. */
  auditLog: string;
  /** Hash: firing alerts by alert id, shared by every instance (queues/stats/alerts.ts). */
  alerts: string;
  /**
   * Hash: one slot (`floor(time / bucket)`) of a queue's alert window (queues/stats/alert-window.ts):
   * attempts, failed attempts, a latency histogram and attempt numbers, added to by every instance and
   * expiring once out of the window.
   */
  alertWindow(topic: string, queue: string, slot: number): string;
  /** Pub/sub channels of the live streams, which carry events between gateway instances. */
  live: LiveChannels;
  /** The dead-letter index of a topic, in the topic's hash tag. */
  deadLetters(topic: string): DeadLetterKeys;
  /** Request-reply (queues/delivery/request-reply.ts): reply addresses and first-reply claims. */
  replies: ReplyKeys;
  /** Ordering keys of one queue (queues/redis/ordering.ts), in the topic's hash tag. */
  ordering(topic: string, queue: string): OrderingKeys;
}

/**
 * One queue's ordering keys (docs/PATTERNS.md#ordering-keys): each key's messages wait in a line of
 * their own, and only its head is deliverable.
 */
export interface OrderingKeys {
  /** Hash: message id -> its due time (ms), written by the publish, until the message is in its key's line. */
  pending: string;
  /** Hash: ordering key -> the id of the one message of that key BullMQ may deliver now. */
  heads: string;
  /** List: the key's messages after its head, in publish order, each `<id>|<due ms>`. */
  line(orderingKey: string): string;
}

/** A replay task's keys: its record and position in the topic's hash tag, so each batch is one call. */
export interface ReplayTaskKeys {
  /** Hash: task id -> its topic, for finding a task by id and listing every task. */
  index: string;
  /** Hash: the task's record (topic, queue, range, rate, state, total, done, times). */
  task(topic: string, id: string): string;
  /** String: the stream id of the last message replayed, written in the same call as its add. */
  position(topic: string, id: string): string;
  /** String: the instance running the task, with an expiry it renews while it runs. */
  lease(topic: string, id: string): string;
  /** String: the id of the one task replaying into a queue now (CONFLICT for a second). */
  queueLock(topic: string, queue: string): string;
}

/**
 * A request's reply address is a pub/sub channel of its own, `<prefix>:reply:<instance>:<request>`;
 * each gateway instance hears all of its own with one PSUBSCRIBE of `pattern(instance)`.
 */
export interface ReplyKeys {
  /** What every reply address starts with; a publish may not set a replyTo in this namespace. */
  addressPrefix: string;
  /** The channel (the message's replyTo) a request waits on. */
  channel(instanceId: string, requestId: string): string;
  /** The PSUBSCRIBE pattern of every reply channel of one instance. */
  pattern(instanceId: string): string;
  /**
   * String: set NX by the first reply (or by the waiter when it gives up), with an expiry; whoever
   * sets it decides the request's fate, and every later reply is dropped. A tag per request, so the
   * claims spread over the slots of a Redis Cluster.
   */
  claim(requestId: string): string;
}

/**
 * Sorted sets of a topic's dead letters, members `<queue>/<jobId>`, scored by the failure time that
 * BullMQ's failed set holds; the Lua commands get each one in KEYS. `~` cannot
 * occur in a queue name, so no key here can meet a BullMQ key of the topic's queues.
 */
export interface DeadLetterKeys {
  /** Every dead letter of the topic; also the base the other sets are named from. */
  base: string;
  queue(queue: string): string;
  reason(reason: string): string;
  queueReason(queue: string, reason: string): string;
  /** String: held by the instance that runs the topic's retention sweep. */
  sweepLock: string;
}

/** BullMQ's keys of one queue: `<bull prefix>:<queue>:<type>` (BullMQ's QueueKeys layout). */
export interface BullKeys {
  /** '<bull prefix>:<queue>:', the prefix of the queue's job keys (BullMQ's `keys['']`). */
  jobPrefix: string;
  failed: string;
  events: string;
  wait: string;
  delayed: string;
  /** BullMQ's priority counter. */
  pc: string;
  paused: string;
  prioritized: string;
  active: string;
  meta: string;
  marker: string;
  /** BullMQ's rate-limit key, which the circuit breaker sets to hold the queue's workers back. */
  limiter: string;
  job(jobId: string): string;
  logs(jobId: string): string;
  lock(jobId: string): string;
  /**
   * Every key of one job that BullMQ's removeJobKeys deletes, in its order: the hash, then its logs,
   * dependencies, processed, failed and unsuccessful children's keys.
   */
  jobKeys(jobId: string): string[];
}

/** Live-stream channels. Nothing is stored under them; they only name Redis pub/sub channels. */
export interface LiveChannels {
  /** Messages published to a topic, for `messages` subscriptions. */
  messages(topic: string): string;
  /** Delivery events of one topic. */
  events(topic: string): string;
  /** Delivery events of every topic, for `deliveryEvents` without a topic. */
  allEvents: string;
  /** "Someone now listens on <channel>" announcements, so publishers start sending at once. */
  interest: string;
  /** Acks and nacks of `consume` deliveries made on another instance than the one that pushed them. */
  settled: string;
  /** Per-second stats summaries from every instance. */
  stats: string;
  /** Alert transitions, announced by the one instance that won them, for `alerts` subscriptions. */
  alerts: string;
  /** A PUBSUB CHANNELS pattern matching every channel above. */
  pattern: string;
}

/** BullMQ's keys of one job beside its hash (removeJobKeys.lua deletes these). */
const JOB_KEY_SUFFIXES = ['', ':logs', ':dependencies', ':processed', ':failed', ':unsuccessful'] as const;

/**
 * BullMQ's keys of the queue whose job keys start with `jobPrefix` (a BullMQ `Queue`'s `keys['']`),
 * for code that holds the queue's handle rather than its topic and name.
 */
export function bullKeysOf(jobPrefix: string): BullKeys {
  return {
    jobPrefix,
    failed: `${jobPrefix}failed`,
    events: `${jobPrefix}events`,
    wait: `${jobPrefix}wait`,
    delayed: `${jobPrefix}delayed`,
    pc: `${jobPrefix}pc`,
    paused: `${jobPrefix}paused`,
    prioritized: `${jobPrefix}prioritized`,
    active: `${jobPrefix}active`,
    meta: `${jobPrefix}meta`,
    marker: `${jobPrefix}marker`,
    limiter: `${jobPrefix}limiter`,
    job: (jobId) => `${jobPrefix}${jobId}`,
    logs: (jobId) => `${jobPrefix}${jobId}:logs`,
    lock: (jobId) => `${jobPrefix}${jobId}:lock`,
    jobKeys: (jobId) => JOB_KEY_SUFFIXES.map((suffix) => `${jobPrefix}${jobId}${suffix}`),
  };
}

export function createKeys(prefix: string = ENGINE_DEFAULTS.keyPrefix): Keys {
  const registry = `${prefix}:{registry}`;
  const topicTag = (topic: string) => `${prefix}:{t:${topic}}`;
  return {
    topics: `${registry}:topics`,
    topicQueues: (topic) => `${registry}:queues:${topic}`,
    registryChannel: `${prefix}:registry:changed`,
    bullPrefix: topicTag,
    bull: (topic, queue) => bullKeysOf(`${topicTag(topic)}:${queue}:`),
    // '~' cannot stand in a queue name, so these never meet a BullMQ key of a queue named 'stats' or 'idem'.
    topicStats: (topic) => `${topicTag(topic)}:~stats`,
    topicRouting: (topic) => `${topicTag(topic)}:~routing`,
    topicHistory: (topic) => `${topicTag(topic)}:~history`,
    topicHistoryIds: (topic) => `${topicTag(topic)}:~history-ids`,
    trail: (topic, messageId) => `${topicTag(topic)}:~trail:${messageId}`,
    replayTasks: {
      index: `${registry}:replay-tasks`,
      task: (topic, id) => `${topicTag(topic)}:~replay:${id}`,
      position: (topic, id) => `${topicTag(topic)}:~replay:${id}:position`,
      lease: (topic, id) => `${topicTag(topic)}:~replay:${id}:lease`,
      queueLock: (topic, queue) => `${topicTag(topic)}:~replay-queue:${queue}`,
    },
    idempotency: (topic, key) => `${topicTag(topic)}:~idem:${key}`,
    circuit: (topic, queue) => `${topicTag(topic)}:~circuit:${queue}`,
    apiKeys: `${registry}:apikeys`,
    apiKeyHashes: `${registry}:apikeys:byhash`,
    apiKeyLastUsed: `${registry}:apikeys:lastused`,
    apiKeyRevokedChannel: `${prefix}:apikeys:revoked`,
    apiKeySequence: `${registry}:apikeys:seq`,
    rateBucket: (keyId) => `${prefix}:{rate:${keyId}}`,
    auditLog: `${registry}:audit`,
    alerts: `${registry}:alerts`,
    alertWindow: (topic, queue, slot) => `${topicTag(topic)}:~aw:${queue}:${slot}`,
    live: {
      messages: (topic) => `${prefix}:live:{t:${topic}}:messages`,
      events: (topic) => `${prefix}:live:{t:${topic}}:events`,
      allEvents: `${prefix}:live:events`,
      interest: `${prefix}:live:interest`,
      settled: `${prefix}:live:settled`,
      stats: `${prefix}:live:stats`,
      alerts: `${prefix}:live:alerts`,
      pattern: `${prefix}:live:*`,
    },
    replies: {
      addressPrefix: `${prefix}:reply:`,
      channel: (instanceId, requestId) => `${prefix}:reply:${instanceId}:${requestId}`,
      pattern: (instanceId) => `${prefix}:reply:${instanceId}:*`,
      claim: (requestId) => `${prefix}:{r:${requestId}}:reply-claim`,
    },
    ordering: (topic, queue) => {
      const base = `${topicTag(topic)}:~ok:${queue}`;
      return {
        pending: `${base}:pending`,
        heads: `${base}:heads`,
        line: (orderingKey) => `${base}:line:${orderingKey}`,
      };
    },
    deadLetters: (topic) => {
      const base = `${topicTag(topic)}:~dl`;
      return {
        base,
        queue: (queue) => `${base}:q:${queue}`,
        reason: (reason) => `${base}:r:${reason}`,
        queueReason: (queue, reason) => `${base}:qr:${queue}:${reason}`,
        sweepLock: `${base}:sweep`,
      };
    },
  };
}
