import { join } from 'node:path';
import { DAY, ENGINE_DEFAULTS, LIMITS, MINUTE, MiB, SECOND } from '../queues/core/index.js';
import { CIRCUIT_DEFAULTS, DEFAULT_REDACTED_HEADERS } from '../queues/delivery/index.js';
import type { ClusterNode, RedisTarget } from '../queues/redis/index.js';
import {
  adminKey,
  boolean,
  ConfigError,
  clusterNodes,
  createReader,
  fraction,
  headerGlobs,
  httpUrl,
  integer,
  keyPrefix,
  nonBlank,
  oneOf,
  origins,
  redisUrl,
  signingSecret,
} from './config-values.js';

export { ConfigError } from './config-values.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Every setting of the gateway. Built only by {@link loadConfig}. */
export interface Config {
  /**
   * HTTP port (`PORT`); 0 lets the OS pick.
   * @default 4000
   */
  port: number;
  /**
   * Interface to listen on (`HOST`).
   * @default '127.0.0.1'
   */
  host: string;
  /**
   * Existing Redis to use (`REDIS_URL`, redis:// or rediss://); null starts an embedded redis-server.
   * @default null
   */
  redisUrl: string | null;
  /**
   * Seed nodes of a Redis Cluster (`REDIS_CLUSTER_NODES`: host:port,host:port,...). When set, every
   * connection (the gateway's and BullMQ's) is an ioredis Cluster and REDIS_URL is not used
   * (docs/SCALING.md).
   * @default null
   */
  redisClusterNodes: ClusterNode[] | null;
  /**
   * Password of the Redis Cluster's nodes (`REDIS_PASSWORD`); only read with REDIS_CLUSTER_NODES
   * (a single Redis takes its password in REDIS_URL).
   * @default null
   */
  redisPassword: string | null;
  /**
   * Directory for local state (`SWITCHYARD_DATA_DIR`); the embedded redis keeps its data in `<dataDir>/redis`.
   * @default '.switchyard'
   */
  dataDir: string;
  /**
   * Prefix of every Redis key (`SWITCHYARD_PREFIX`), [A-Za-z0-9_-]{1,32}.
   * @default 'sy'
   */
  keyPrefix: string;
  /**
   * JSON topology file applied at start (`SWITCHYARD_TOPOLOGY`); null applies none.
   * @default null
   */
  topologyFile: string | null;
  /**
   * How long an idempotency key is remembered, in ms (`SWITCHYARD_DEDUP_WINDOW_MS`).
   * @default 86400000 (24 hours)
   */
  dedupWindowMs: number;
  /**
   * Largest message payload a topic accepts unless it says otherwise, in bytes
   * (`SWITCHYARD_MAX_MESSAGE_BYTES`); at most 64 MiB.
   * @default 1048576 (1 MiB)
   */
  defaultMaxMessageBytes: number;
  /**
   * How long a graceful shutdown may take before it is forced, in ms (`SWITCHYARD_SHUTDOWN_TIMEOUT_MS`).
   * @default 30000 (30 seconds)
   */
  shutdownTimeoutMs: number;
  /**
   * How long deleteQueue waits for the workers other instances run on the queue to stop (after the
   * deliveries they have under way) before it removes the queue's keys anyway, with a warning, in ms
   * (`SWITCHYARD_QUEUE_DELETE_WAIT_MS`); 0 removes them at once. At most 12 hours, the longest
   * `ackTimeoutMs` a delivery can take.
   * @default 10000 (10 seconds)
   */
  queueDeleteWaitMs: number;
  /**
   * Log level (`SWITCHYARD_LOG_LEVEL`).
   * @default 'info'
   */
  logLevel: LogLevel;
  /**
   * Serve GraphiQL on the GraphQL endpoint (`SWITCHYARD_GRAPHIQL`: true/false/1/0).
   * @default true
   */
  graphiql: boolean;
  /**
   * Serve the web dashboard at /dashboard/ (`SWITCHYARD_DASHBOARD`: true/false/1/0). It shows only what
   * the caller's key may read, through /graphql like any client (docs/DASHBOARD.md).
   * @default true
   */
  dashboard: boolean;
  /**
   * Serve Prometheus metrics at /metrics (`SWITCHYARD_METRICS`: true/false/1/0); a scrape needs the
   * `stats` scope (docs/METRICS.md).
   * @default true
   */
  metrics: boolean;
  /**
   * Serve plain JSON POSTs to /graphql on the lean path (server/json-post.ts) rather than through
   * yoga's Fetch API layer (`SWITCHYARD_HTTP_FAST_PATH`: true/false/1/0). The answers are the same;
   * the switch exists to rule the path out when chasing a problem.
   * @default true
   */
  httpFastPath: boolean;
  /**
   * `NODE_ENV === 'production'`.
   * @default false
   */
  production: boolean;
  /**
   * The admin key (`SWITCHYARD_ADMIN_KEY`, 16 to 256 characters without spaces). Unset, the gateway
   * serves loopback clients only (protected mode); set, every request needs a key, from any address.
   * @default null
   */
  adminKey: string | null;
  /**
   * Let webhooks reach loopback and private addresses (`SWITCHYARD_ALLOW_PRIVATE_WEBHOOKS`). They may
   * anyway while `host` is a loopback address; link-local and metadata addresses are refused always.
   * @default false
   */
  allowPrivateWebhooks: boolean;
  /**
   * Answer introspection queries (`SWITCHYARD_INTROSPECTION`); off also hides field suggestions.
   * @default true
   */
  introspection: boolean;
  /**
   * Browser origins allowed to call the gateway cross-origin (`SWITCHYARD_CORS_ORIGINS`, comma-separated,
   * `*` for any). Empty allows loopback origins (http://localhost:5173 and the like) only.
   * @default []
   */
  corsOrigins: string[];
  /**
   * Deepest selection nesting a query may have (`SWITCHYARD_MAX_DEPTH`).
   * @default 12
   */
  maxDepth: number;
  /**
   * Highest query cost, as graphql-armor counts it (`SWITCHYARD_MAX_COST`).
   * @default 5000
   */
  maxCost: number;
  /**
   * Most aliases in one operation (`SWITCHYARD_MAX_ALIASES`).
   * @default 15
   */
  maxAliases: number;
  /**
   * Most directives in one operation (`SWITCHYARD_MAX_DIRECTIVES`).
   * @default 50
   */
  maxDirectives: number;
  /**
   * Most lexical tokens in one document (`SWITCHYARD_MAX_TOKENS`); pass large inputs as variables.
   * @default 10000
   */
  maxTokens: number;
  /**
   * Largest HTTP request body, in bytes (`SWITCHYARD_MAX_REQUEST_BYTES`); raise it with the message size.
   * @default 16777216 (16 MiB)
   */
  maxRequestBytes: number;
  /**
   * Most messages in one publishBatch (`SWITCHYARD_MAX_BATCH`).
   * @default 1000
   */
  maxBatchSize: number;
  /**
   * Requests per second one API key may make, sustained (`SWITCHYARD_RATE_LIMIT_PER_SECOND`); 0 turns
   * rate limiting off. Loopback callers without a key are not limited.
   * @default 1000
   */
  rateLimitPerSecond: number;
  /**
   * Requests one API key may make at once after a quiet spell (`SWITCHYARD_RATE_LIMIT_BURST`).
   * @default 2000
   */
  rateLimitBurst: number;
  /**
   * How long an old webhook signing secret keeps signing after a rotation, in ms
   * (`SWITCHYARD_SIGNING_SECRET_GRACE_MS`).
   * @default 86400000 (24 hours)
   */
  signingSecretGraceMs: number;
  /**
   * Audit log entries kept at most (`SWITCHYARD_AUDIT_MAX_ENTRIES`).
   * @default 100000
   */
  auditMaxEntries: number;
  /**
   * How long audit log entries are kept, in ms (`SWITCHYARD_AUDIT_RETENTION_MS`).
   * @default 7776000000 (90 days)
   */
  auditRetentionMs: number;
  /**
   * How long a websocket may wait after the upgrade before its `connection_init`, in ms
   * (`SWITCHYARD_WS_INIT_TIMEOUT_MS`); past it the socket is closed with 4408.
   * @default 3000 (3 seconds)
   */
  wsConnectionInitTimeoutMs: number;
  /**
   * Websockets one API key may hold open on one gateway instance (`SWITCHYARD_WS_MAX_CONNECTIONS_PER_KEY`);
   * one more is closed with 1013 at connection_init. Loopback callers without a key are not counted.
   * @default 100
   */
  wsMaxConnectionsPerKey: number;
  /**
   * Operations (subscriptions included) one websocket may run at once (`SWITCHYARD_WS_MAX_OPERATIONS`);
   * one more is refused with RATE_LIMITED.
   * @default 100
   */
  wsMaxOperationsPerSocket: number;
  /**
   * How long a dead letter is kept after it failed, in ms (`SWITCHYARD_DEAD_LETTER_RETENTION_MS`); 0
   * keeps dead letters until they are replayed or discarded.
   * @default 1209600000 (14 days)
   */
  deadLetterRetentionMs: number;
  /**
   * Folder where dead letters removed by retention are archived first, as NDJSON, one file per day
   * (`SWITCHYARD_DEAD_LETTER_ARCHIVE_DIR`); null removes them without an archive.
   * @default null
   */
  deadLetterArchiveDir: string | null;
  /**
   * Header names whose values are redacted in dead-letter errors and attempt history
   * (`SWITCHYARD_REDACT_HEADERS`, comma-separated, case-insensitive, `*` matches any run of characters).
   * @default ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', '*secret*', '*token*']
   */
  redactHeaders: string[];
  /**
   * Endpoint failures in a row (TIMEOUT, DEPENDENCY, PROCESSING) that open a webhook queue's circuit
   * (`SWITCHYARD_CIRCUIT_FAILURES`); 0 turns circuit breaking off.
   * @default 10
   */
  circuitFailures: number;
  /**
   * How long an open circuit holds deliveries back before one probe, in ms (`SWITCHYARD_CIRCUIT_COOLDOWN_MS`).
   * @default 30000 (30 seconds)
   */
  circuitCooldownMs: number;
  /**
   * The longest cool-down, reached by doubling after each failed probe, in ms
   * (`SWITCHYARD_CIRCUIT_MAX_COOLDOWN_MS`).
   * @default 600000 (10 minutes)
   */
  circuitMaxCooldownMs: number;
  /**
   * How often built-in alerts are evaluated, in ms; 0 turns them off (`SWITCHYARD_ALERT_INTERVAL_MS`).
   * @default 15000
   */
  alertIntervalMs: number;
  /** Lag (ms) that fires QUEUE_LAG; 0: off (`SWITCHYARD_ALERT_LAG_MS`). @default 300000 */
  alertLagMs: number;
  /** Waiting messages that fire QUEUE_DEPTH; 0: off (`SWITCHYARD_ALERT_DEPTH`). @default 1000 */
  alertDepth: number;
  /** Dead letters in a queue that fire DEAD_LETTERS; 0: off (`SWITCHYARD_ALERT_DEAD_LETTERS`). @default 1 */
  alertDeadLetters: number;
  /** Fire CIRCUIT_OPEN while a webhook endpoint's breaker is open (`SWITCHYARD_ALERT_CIRCUIT`). @default true */
  alertCircuit: boolean;
  /**
   * P95 publish-to-delivered latency (ms) over the alert window that fires DELIVERY_LATENCY; 0: off
   * (`SWITCHYARD_ALERT_DELIVERY_LATENCY_MS`). @default 1000
   */
  alertDeliveryLatencyMs: number;
  /**
   * Failed attempts per attempt over the alert window, 0 to 1, that fire FAILURE_RATE; 0: off
   * (`SWITCHYARD_ALERT_FAILURE_RATE`). @default 0.01 (1 %)
   */
  alertFailureRate: number;
  /** Attempts a message needed that fire RETRIES; 0: off (`SWITCHYARD_ALERT_RETRIES`). @default 3 */
  alertRetries: number;
  /**
   * How far back DELIVERY_LATENCY, FAILURE_RATE and RETRIES look, in ms (`SWITCHYARD_ALERT_WINDOW_MS`).
   * @default 60000 (1 minute)
   */
  alertWindowMs: number;
  /** Where alert firings and resolutions are POSTed (`SWITCHYARD_ALERT_WEBHOOK_URL`). @default null */
  alertWebhookUrl: string | null;
  /** `whsec_…` secret that signs them (`SWITCHYARD_ALERT_WEBHOOK_SECRET`); unsigned without. @default null */
  alertWebhookSecret: string | null;
}

/** Reads and validates the environment; throws a {@link ConfigError} listing every bad value at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const read = createReader(env);
  const config = {
    port: read('PORT', 4000, integer(0, 65535)),
    host: read('HOST', '127.0.0.1', nonBlank('a host name or IP address')),
    redisUrl: read('REDIS_URL', null, redisUrl),
    redisClusterNodes: read('REDIS_CLUSTER_NODES', null, clusterNodes),
    redisPassword: read('REDIS_PASSWORD', null, nonBlank('the password of the cluster nodes')),
    dataDir: read('SWITCHYARD_DATA_DIR', '.switchyard', nonBlank('a directory path')),
    keyPrefix: read('SWITCHYARD_PREFIX', ENGINE_DEFAULTS.keyPrefix, keyPrefix),
    topologyFile: read('SWITCHYARD_TOPOLOGY', null, nonBlank('a path to a JSON topology file')),
    dedupWindowMs: read('SWITCHYARD_DEDUP_WINDOW_MS', ENGINE_DEFAULTS.dedupWindowMs, integer(1)),
    defaultMaxMessageBytes: read(
      'SWITCHYARD_MAX_MESSAGE_BYTES',
      ENGINE_DEFAULTS.defaultMaxMessageBytes,
      integer(1, 64 * MiB, '64 MiB'),
    ),
    shutdownTimeoutMs: read('SWITCHYARD_SHUTDOWN_TIMEOUT_MS', 30 * SECOND, integer(1)),
    queueDeleteWaitMs: read(
      'SWITCHYARD_QUEUE_DELETE_WAIT_MS',
      ENGINE_DEFAULTS.queueDeleteWaitMs,
      integer(0, LIMITS.ackTimeoutMs.max, '12 hours'),
    ),
    logLevel: read('SWITCHYARD_LOG_LEVEL', 'info', oneOf(LOG_LEVELS)),
    graphiql: read('SWITCHYARD_GRAPHIQL', true, boolean),
    dashboard: read('SWITCHYARD_DASHBOARD', true, boolean),
    metrics: read('SWITCHYARD_METRICS', true, boolean),
    httpFastPath: read('SWITCHYARD_HTTP_FAST_PATH', true, boolean),
    production: env.NODE_ENV === 'production',
    adminKey: read('SWITCHYARD_ADMIN_KEY', null, adminKey),
    allowPrivateWebhooks: read('SWITCHYARD_ALLOW_PRIVATE_WEBHOOKS', false, boolean),
    introspection: read('SWITCHYARD_INTROSPECTION', true, boolean),
    corsOrigins: read('SWITCHYARD_CORS_ORIGINS', [], origins),
    maxDepth: read('SWITCHYARD_MAX_DEPTH', 12, integer(1, 1000)),
    maxCost: read('SWITCHYARD_MAX_COST', 5000, integer(1)),
    // 100: a consumer acks a receive(max: 100) as the aliases of one request; the cost limit still bounds the work.
    maxAliases: read('SWITCHYARD_MAX_ALIASES', 100, integer(0, 10_000)),
    maxDirectives: read('SWITCHYARD_MAX_DIRECTIVES', 50, integer(0, 10_000)),
    maxTokens: read('SWITCHYARD_MAX_TOKENS', 10_000, integer(1)),
    maxRequestBytes: read('SWITCHYARD_MAX_REQUEST_BYTES', 16 * MiB, integer(1024, 1024 * MiB, '1 GiB')),
    maxBatchSize: read('SWITCHYARD_MAX_BATCH', ENGINE_DEFAULTS.maxBatchSize, integer(1, 100_000)),
    rateLimitPerSecond: read('SWITCHYARD_RATE_LIMIT_PER_SECOND', 1000, integer(0)),
    rateLimitBurst: read('SWITCHYARD_RATE_LIMIT_BURST', 2000, integer(1)),
    signingSecretGraceMs: read(
      'SWITCHYARD_SIGNING_SECRET_GRACE_MS',
      ENGINE_DEFAULTS.signingSecretGraceMs,
      integer(0),
    ),
    auditMaxEntries: read('SWITCHYARD_AUDIT_MAX_ENTRIES', 100_000, integer(1)),
    auditRetentionMs: read('SWITCHYARD_AUDIT_RETENTION_MS', 90 * DAY, integer(1)),
    wsConnectionInitTimeoutMs: read('SWITCHYARD_WS_INIT_TIMEOUT_MS', 3 * SECOND, integer(1, 10 * MINUTE)),
    wsMaxConnectionsPerKey: read('SWITCHYARD_WS_MAX_CONNECTIONS_PER_KEY', 100, integer(1)),
    wsMaxOperationsPerSocket: read('SWITCHYARD_WS_MAX_OPERATIONS', 100, integer(1)),
    deadLetterRetentionMs: read(
      'SWITCHYARD_DEAD_LETTER_RETENTION_MS',
      ENGINE_DEFAULTS.deadLetterRetentionMs,
      integer(0),
    ),
    deadLetterArchiveDir: read('SWITCHYARD_DEAD_LETTER_ARCHIVE_DIR', null, nonBlank('a directory path')),
    redactHeaders: read('SWITCHYARD_REDACT_HEADERS', [...DEFAULT_REDACTED_HEADERS], headerGlobs),
    circuitFailures: read('SWITCHYARD_CIRCUIT_FAILURES', CIRCUIT_DEFAULTS.failures, integer(0, 1_000_000)),
    circuitCooldownMs: read('SWITCHYARD_CIRCUIT_COOLDOWN_MS', CIRCUIT_DEFAULTS.cooldownMs, integer(100, DAY)),
    circuitMaxCooldownMs: read(
      'SWITCHYARD_CIRCUIT_MAX_COOLDOWN_MS',
      CIRCUIT_DEFAULTS.maxCooldownMs,
      integer(100, 7 * DAY),
    ),
    alertIntervalMs: read('SWITCHYARD_ALERT_INTERVAL_MS', 15 * SECOND, integer(0, DAY)),
    alertLagMs: read('SWITCHYARD_ALERT_LAG_MS', 5 * MINUTE, integer(0)),
    alertDepth: read('SWITCHYARD_ALERT_DEPTH', 1000, integer(0)),
    alertDeadLetters: read('SWITCHYARD_ALERT_DEAD_LETTERS', 1, integer(0)),
    alertCircuit: read('SWITCHYARD_ALERT_CIRCUIT', true, boolean),
    alertDeliveryLatencyMs: read('SWITCHYARD_ALERT_DELIVERY_LATENCY_MS', 1 * SECOND, integer(0)),
    alertFailureRate: read('SWITCHYARD_ALERT_FAILURE_RATE', 0.01, fraction),
    alertRetries: read('SWITCHYARD_ALERT_RETRIES', 3, integer(0)),
    alertWindowMs: read('SWITCHYARD_ALERT_WINDOW_MS', 1 * MINUTE, integer(1 * SECOND, DAY)),
    alertWebhookUrl: read('SWITCHYARD_ALERT_WEBHOOK_URL', null, httpUrl),
    alertWebhookSecret: read('SWITCHYARD_ALERT_WEBHOOK_SECRET', null, signingSecret),
  } satisfies Config;
  read.throwIfInvalid();
  return config;
}

/**
 * Whether the gateway can only be reached from this machine: then private webhook targets are as
 * reachable to its users as to the gateway, and the SSRF guard lets them through.
 */
export function listensOnLoopbackOnly(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

/** Where the embedded redis-server keeps its AOF. */
export function embeddedRedisDir(config: Pick<Config, 'dataDir'>): string {
  return join(config.dataDir, 'redis');
}

/** Where the gateway's Redis is, from the config: the cluster when REDIS_CLUSTER_NODES is set. */
export function redisTargetOf(
  config: Pick<Config, 'redisUrl' | 'redisClusterNodes' | 'redisPassword'>,
): RedisTarget | null {
  if (config.redisClusterNodes) {
    return { clusterNodes: config.redisClusterNodes, password: config.redisPassword };
  }
  return config.redisUrl ? { url: config.redisUrl } : null;
}
