import type { RetryPolicy } from './types.js';

import { DAY, HOUR, MINUTE, MiB, SECOND } from './units.js';

/**
 * The engine's defaults for what createEngine's options leave out, in one literal; server/config.ts
 * reads the same values as the defaults of its environment variables.
 */
export const ENGINE_DEFAULTS = {
  /** Prefix of every Redis key. */
  keyPrefix: 'sy',
  /** How long an idempotency key is remembered. */
  dedupWindowMs: 24 * HOUR,
  /** A topic's size limit when it sets none. */
  defaultMaxMessageBytes: 1 * MiB,
  /** The most messages one publishBatch takes. */
  maxBatchSize: 1000,
  /** How long a rotated-out signing secret still signs, beside the new one. */
  signingSecretGraceMs: 24 * HOUR,
  /** How long a dead letter is kept before the retention sweep removes it; 0 keeps it forever. */
  deadLetterRetentionMs: 14 * DAY,
  /**
   * How often each instance repairs its queues' ordering keys after a gateway died between two steps
   * (queues/redis/ordering.ts): a key is held back at most about this long by such a death.
   */
  orderingSweepMs: 2 * SECOND,
  /**
   * How long deleteQueue waits for other instances' workers on the queue to stop (each stops when it
   * hears of the deletion, after the deliveries it has under way) before it removes the queue's keys
   * anyway, with a warning through onError. A killed instance's workers count as stopped at once.
   */
  queueDeleteWaitMs: 10 * SECOND,
  /** How long a command of the engine's own connection may go unanswered (EngineOptions.commandTimeoutMs). */
  commandTimeoutMs: 5 * SECOND,
  /**
   * How often the engine PINGs Redis to know whether it answers (queues/engine/redis-watch.ts): one
   * PING on the request connection per 20 ms, which Redis answers in microseconds.
   */
  redisPingIntervalMs: 20,
  /**
   * The least time a PING may go unanswered before Redis counts as not answering: with the PING
   * interval, a frozen Redis is refused within 80 ms, where Redis answered fast in the last minute.
   */
  redisUnresponsiveAfterMs: 60,
  /**
   * The most. The limit between is learned (four times the slowest PING answer of the last minute),
   * because silence alone cannot tell a frozen Redis from one running a long script: a publishBatch of
   * 1,000 messages into 10 queues keeps it busy for about 250 ms here, twice that on a loaded machine,
   * and a watchdog that took that for an outage would refuse requests while Redis is fine (seen in the
   * cluster bench at a fixed 300 ms).
   */
  redisMaxUnresponsiveAfterMs: 750,
  /**
   * For this long after it first hears Redis, a new watchdog holds to the most: a gateway started on
   * a machine starved of CPU took a Redis starved alike for frozen before it had learned anything.
   */
  redisWatchWarmUpMs: 5 * SECOND,
  /**
   * What one message in a group commit is announced to cost a quiet Redis, so our own big commit is no
   * outage: a batch of 1,000 into 10 queues held a Redis with `appendfsync always` silent for up to
   * 560 ms here; twice that, because a machine under load slows Redis more than its PINGs show at first.
   */
  redisBusyPerMessageMs: 2,
} as const;

/** Defaults for what a client leaves out, in one literal (see API.graphql for the public ones). */
export const QUEUE_DEFAULTS = {
  retry: { maxAttempts: 5, backoff: 'EXPONENTIAL', delayMs: 1 * SECOND, maxDelayMs: MINUTE, jitter: true },
  concurrency: 10,
  ackTimeoutMs: 30 * SECOND,
  maxPriority: 9,
} as const satisfies { retry: RetryPolicy; concurrency: number; ackTimeoutMs: number; maxPriority: number };

/** A message's priority: 0 (the default) to 9, the most urgent. */
export const PRIORITY = { min: 0, max: 9 } as const;

/** The bounds input is checked against; beyond them a request is refused with BAD_USER_INPUT. */
export const LIMITS = {
  nameLength: 128,
  maxAttempts: 100,
  retryDelayMs: 24 * HOUR,
  concurrency: 1000,
  ackTimeoutMs: { min: 100, max: 12 * HOUR },
  maxMessageBytes: 64 * MiB,
  delayMs: 365 * 24 * HOUR,
  ttlMs: 365 * 24 * HOUR,
  stringField: 256,
  routingKeyLength: 255,
  orderingKeyLength: 255,
  headerCount: 64,
  headerValueLength: 4096,
  descriptionLength: 1024,
  urlLength: 2048,
  /** A topic history's longest retention: 24 days, within GraphQL's Int. */
  historyMaxAgeMs: 24 * DAY,
  historyMaxMessages: 10_000_000,
} as const;
