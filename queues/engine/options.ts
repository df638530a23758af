import type { DeadLetterSettings } from '../dead-letters/index.js';
import type { AutoscaleSettings, CircuitOptions } from '../delivery/index.js';
import type { ReplayTasksOptions } from '../history/index.js';
import type { LiveOptions } from '../live/index.js';
import type { PublisherOptions } from '../publish/index.js';
import type { RedisTarget } from '../redis/index.js';
import type { SecurityOptions } from '../security/index.js';
import type { AlertThresholds, AlertTransition, AlertWebhook } from '../stats/index.js';

/** `SecurityOptions` (security.ts) are engine options too: webhookPolicy, rate limits, audit log... */
export interface EngineOptions extends SecurityOptions {
  /**
   * redis:// URL of the one Redis that holds everything; shorthand for `redis: { url }`.
   * Either this or `redis` must be set.
   */
  redisUrl?: string;
  /**
   * Where Redis is: `{ url }` for one server, or `{ clusterNodes, password }` for a Redis Cluster,
   * where every connection, BullMQ's too, is an ioredis Cluster (docs/SCALING.md).
   * @default { url: redisUrl }
   */
  redis?: RedisTarget;
  /**
   * How long a command of the engine's own connection may go unanswered before its caller is told
   * UNAVAILABLE: a Redis that froze, or a connection that dropped with the command in flight (ioredis
   * otherwise holds it until the connection is back). A publish whose outcome is then unknown says so
   * (queues/publish/outcome.ts). BullMQ's worker connection is not bounded: workers wait out outages.
   * @default 5000
   */
  commandTimeoutMs?: number;
  /**
   * The watchdog on Redis (redis-watch.ts): a PING every `pingIntervalMs`; one unanswered past the
   * limit (or a dropped connection) marks Redis unavailable until a PING answers. The limit is four
   * times the slowest PING answer of the last minute, within `unresponsiveAfterMs` and
   * `maxUnresponsiveAfterMs`. Meanwhile publish, receive, ack and key lookups answer UNAVAILABLE at
   * once, and live subscriptions are told of each outage (docs/PROTOCOL.md).
   * @default ENGINE_DEFAULTS.redisPingIntervalMs (20), redisUnresponsiveAfterMs (60), redisMaxUnresponsiveAfterMs (750)
   */
  redisWatch?: {
    pingIntervalMs?: number;
    unresponsiveAfterMs?: number;
    maxUnresponsiveAfterMs?: number;
    warmUpMs?: number;
  };
  /** Prefix of every key, so several deployments can share one Redis. @default 'sy' */
  keyPrefix?: string;
  /** How long an idempotency key is remembered. @default 24 h */
  dedupWindowMs?: number;
  /** A topic's size limit when it sets none. @default 1 MiB */
  defaultMaxMessageBytes?: number;
  /**
   * How often this instance sweeps its queues' ordering keys, repairing a key a killed gateway left
   * between two steps (queues/redis/ordering.ts). @default 2 s (ENGINE_DEFAULTS.orderingSweepMs)
   */
  orderingSweepMs?: number;
  /**
   * How long deleteQueue waits for the workers other instances run on the queue to stop before it
   * removes the queue's keys anyway, telling onError (queues/engine/delete-queue.ts).
   * @default 10 s (ENGINE_DEFAULTS.queueDeleteWaitMs)
   */
  queueDeleteWaitMs?: number;
  /** Run webhook delivery workers in this process. @default true */
  runWorkers?: boolean;
  /** Where background errors go (worker connection trouble, a failed reconcile). @default ignored */
  onError?: (error: Error) => void;
  /** Fault injection for tests; see PublisherOptions.beforeExec. */
  beforeExec?: PublisherOptions['beforeExec'];
  /** Dead-letter retention, archive folder, redaction and maintenance interval (see dead-letters.ts). */
  deadLetters?: DeadLetterSettings;
  /**
   * Replay tasks (queues/history/replay-tasks.ts): how often an instance looks for tasks no instance
   * runs, how long a running task's lease lasts, and how long a finished task is kept.
   * @default every 2 s; 10 s; 7 days
   */
  replayTasks?: Pick<ReplayTasksOptions, 'resumeEveryMs' | 'leaseMs' | 'finishedRetentionMs'>;
  /** The most messages one publishBatch takes. @default 1000 */
  maxBatchSize?: number;
  /**
   * Export Node's process metrics (CPU, memory, event loop lag, GC) with the gateway's own.
   * @default true
   */
  processMetrics?: boolean;
  /**
   * Built-in alerts (alerts.ts): thresholds, how often to evaluate (0: only when `evaluateAlerts` is
   * called), where to notify, and a callback for each transition this instance announces.
   * @default DEFAULT_ALERT_THRESHOLDS, every 15 s, no webhook
   */
  alerts?: {
    thresholds?: Partial<AlertThresholds>;
    intervalMs?: number;
    /** How far back DELIVERY_LATENCY, FAILURE_RATE and RETRIES look (alert-window.ts). @default 60000 */
    windowMs?: number;
    /** How often this instance adds its counts to the shared window; 0: at evaluations only. @default 1000 */
    flushMs?: number;
    webhook?: AlertWebhook | null;
    onTransition?: (transition: AlertTransition) => void;
  };
  /** Live streams: per-subscriber buffer bounds, stats window (see live.ts). @default see LiveOptions */
  live?: LiveOptions;
  /** When a failing webhook endpoint's circuit opens, and for how long (see circuit-breaker.ts). */
  circuit?: CircuitOptions;
  /**
   * How WEBHOOK queues with a concurrency range move their workers on this instance: how often the
   * backlog is sampled and how many samples in a row make a step (autoscaler.ts, docs/DELIVERY.md).
   * @default AUTOSCALE_DEFAULTS: every second, up after 2 pressed samples, down after 5 calm ones
   */
  autoscale?: Partial<AutoscaleSettings>;
}
