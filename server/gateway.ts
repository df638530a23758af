import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Plugin } from 'graphql-yoga';
import packageJson from '../package.json' with { type: 'json' };
import { createEngine, type Engine } from '../queues/engine/index.js';
import type { LiveOptions } from '../queues/live/index.js';
import { type Authenticator, createAuthenticator } from './auth.js';
import { createBullBoardMount } from './bull-board.js';
import { type Config, redisTargetOf } from './config.js';
import { defaultDashboardDir, loadDashboard, useDashboard } from './dashboard.js';
import { engineOptions, throttledErrorLog } from './engine-options.js';
import { createInFlight, type InFlight } from './in-flight.js';
import { createJsonPostPath } from './json-post.js';
import { createLifecycle } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { requestLimits } from './security-config.js';
import { useAuditLog } from './use-audit-log.js';
import { useAuth } from './use-auth.js';
import { useDrain } from './use-drain.js';
import { type HealthReport, useHealth } from './use-health.js';
import { useMetrics } from './use-metrics.js';
import { useRootRedirect } from './use-root-redirect.js';
import { useSubscriptionDrain } from './use-subscription-drain.js';
import { type AttachedWebSocket, attachWebSocket, type WebSocketOptions } from './websocket.js';
import { createWebSocketAuth } from './websocket-auth.js';
import { createYogaApp, type YogaApp } from './yoga.js';

/** The one path for GraphQL over HTTP and over websockets. */
export const GRAPHQL_PATH = '/graphql';

/** A Redis that does not answer a PING this fast counts as down for /health. */
const HEALTH_PING_TIMEOUT_MS = 1_000;

/** What {@link createGateway} may be given besides the config; everything has a default. */
export interface GatewayDeps {
  /**
   * Where lifecycle lines and background errors go.
   * @default a pino logger at `config.logLevel`
   */
  logger?: Logger;
  /**
   * Answered by `/health` and `health.version`.
   * @default the version in package.json
   */
  version?: string;
  /**
   * More yoga plugins, run after the gateway's own (health, drain, root redirect).
   * @default []
   */
  plugins?: Plugin[];
  /**
   * Websocket settings: keep-alive, buffer bounds, shared execution (see server/websocket.ts).
   * @default WebSocketOptions' defaults
   */
  websocket?: Pick<
    WebSocketOptions,
    | 'keepAliveMs'
    | 'maxBufferedBytes'
    | 'maxOperationsPerSocket'
    | 'shareSubscriptions'
    | 'sharing'
    | 'closeTimeoutMs'
  >;
  /**
   * Live-stream settings: per-subscriber buffers, stats window (see queues/live/live.ts).
   * @default LiveOptions' defaults
   */
  live?: LiveOptions;
  /**
   * Where the built dashboard is read from (`npm run build` writes it).
   * @default dist/web under the project root
   */
  dashboardDir?: string;
}

export interface Gateway {
  /** The engine the gateway serves; open from creation until `stop()` resolves. */
  readonly engine: Engine;
  /** The yoga app behind the listener, for `yoga.fetch` in tests and embedding. */
  readonly yoga: YogaApp;
  /** HTTP requests and websocket executions in progress: what a drain waits for. */
  readonly inFlight: number;
  /** Distinct live subscriptions executed once for several websocket subscribers, and those subscribers. */
  readonly sharedSubscriptions: { groups: number; listeners: number };
  /** Bytes held for websocket clients that read slower than results come (see server/websocket.ts). */
  readonly websocketHeldBytes: number;
  /** Listens on `config.host:config.port` (0 picks a free port); answers the actual port. Once only. */
  start(): Promise<{ port: number; url: string }>;
  /**
   * Drains and closes: the engine takes no new work (no webhook delivery or consumer fetch starts),
   * new requests get 503 UNAVAILABLE, websockets close with 1001, in-flight requests finish, then the
   * engine closes (waiting for the deliveries under way). Bounded by `config.shutdownTimeoutMs`, after which connections are cut and the promise rejects; deliveries that
   * did not finish are redelivered by BullMQ, so nothing acknowledged is lost. Idempotent.
   */
  stop(): Promise<void>;
}

type Phase = 'created' | 'listening' | 'draining' | 'stopped';

/**
 * The gateway process minus the process: engine, yoga (HTTP) and graphql-ws (websocket) on one port.
 * `config.redisUrl` or `config.redisClusterNodes` must be set; server/index.ts starts the embedded Redis
 * first when neither is.
 */
export async function createGateway(config: Config, deps: GatewayDeps = {}): Promise<Gateway> {
  const redis = redisTargetOf(config);
  if (!redis) {
    throw new Error(
      'createGateway needs config.redisUrl or config.redisClusterNodes; start the embedded Redis first (server/index.ts does)',
    );
  }
  const logger = deps.logger ?? createLogger({ level: config.logLevel });
  const version = deps.version ?? packageJson.version;
  const startedAt = Date.now();
  const engine = await createEngine(engineOptions(config, redis, deps.live, logger));
  const authenticator = createAuthenticator({
    adminKey: config.adminKey,
    apiKeys: engine.apiKeys,
    corsOrigins: config.corsOrigins,
    startedAt,
  });

  let phase: Phase = 'created';
  const draining = () => phase === 'draining' || phase === 'stopped';
  const inFlight = createInFlight();

  const health = healthCheck(engine, version, startedAt, () => phase);

  const dashboardFiles = config.dashboard ? await dashboardFilesFor(deps, logger) : null;
  const subscriptionDrain = useSubscriptionDrain();
  const yoga = createYogaApp({
    engine,
    graphiql: config.graphiql,
    version,
    startedAt,
    limits: requestLimits(config),
    corsOrigins: config.corsOrigins,
    // Health first, so probes get the (503) report while draining instead of the drain refusal.
    plugins: [
      useHealth({ check: health }),
      // Before the drain: a scrape during shutdown still shows what is left to deliver.
      ...(config.metrics ? [useMetrics({ metrics: engine.metrics, authenticator })] : []),
      useDrain({ isDraining: draining }),
      subscriptionDrain,
      useRootRedirect(),
      ...(config.dashboard ? [useDashboard({ files: dashboardFiles })] : []),
      useAuth({ authenticator, rateLimiter: engine.rateLimiter, revocations: engine.apiKeys }),
      useAuditLog({ auditLog: engine.auditLog, onError: throttledErrorLog(logger) }),
      ...(deps.plugins ?? []),
    ],
  });

  const jsonPost = config.httpFastPath
    ? createJsonPostPath({
        yoga,
        path: GRAPHQL_PATH,
        maxRequestBytes: config.maxRequestBytes,
        isDraining: draining,
      })
    : null;
  // bull-board at /queues, with the dashboard and behind the same auth (server/bull-board.ts).
  const bullBoard = config.dashboard
    ? createBullBoardMount({ engine, redis, authenticator, isDraining: draining })
    : null;
  const server = createServer((req, res) => {
    const end = inFlight.begin();
    res.once('close', end);
    if (bullBoard?.handle(req, res)) return;
    if (!jsonPost?.(req, res)) void yoga(req, res);
  });
  const lifecycle = createLifecycle({
    config,
    server,
    path: GRAPHQL_PATH,
    logger,
    engine,
    inFlight,
    subscriptionDrain,
    bullBoard,
    setPhase: (next) => {
      phase = next;
    },
    draining,
    attach: () => websocketFor({ server, yoga, config, deps, engine, authenticator, inFlight, draining }),
    describe: () => authenticator.describe(config.host),
  });

  return {
    engine,
    yoga,
    get inFlight() {
      return inFlight.size;
    },
    get sharedSubscriptions() {
      return lifecycle.websocket?.shared ?? { groups: 0, listeners: 0 };
    },
    get websocketHeldBytes() {
      return lifecycle.websocket?.heldBytes ?? 0;
    },
    start: lifecycle.start,
    stop: lifecycle.stop,
  };
}

/** /health's report: the watchdog's verdict first, so a frozen Redis answers 503 at once. */
function healthCheck(
  engine: Engine,
  version: string,
  startedAt: number,
  phase: () => Phase,
): () => Promise<HealthReport> {
  return async () => {
    const redis =
      engine.redis.available &&
      (await Promise.race([engine.redisHealthy(), sleep(HEALTH_PING_TIMEOUT_MS, false)]));
    const now = phase();
    return {
      ok: redis && now === 'listening',
      redis,
      redisUnresponsiveAfterMs: engine.redis.limitMs,
      workers: engine.webhookWorkers,
      draining: now === 'draining' || now === 'stopped',
      version,
      uptimeSeconds: (Date.now() - startedAt) / 1000,
    };
  };
}

/** The built dashboard, or null (with a warning) when `npm run build` has not built it. */
async function dashboardFilesFor(deps: GatewayDeps, logger: Logger) {
  const files = await loadDashboard(deps.dashboardDir ?? defaultDashboardDir());
  if (files === null) {
    logger.warn('The web dashboard is not built, so /dashboard/ answers 404; `npm run build` builds it');
  }
  return files;
}

/** graphql-ws on the gateway's port and path, with the gateway's auth and limits. */
function websocketFor(parts: {
  server: Server;
  yoga: YogaApp;
  config: Config;
  deps: GatewayDeps;
  engine: Engine;
  authenticator: Authenticator;
  inFlight: InFlight;
  draining: () => boolean;
}): AttachedWebSocket {
  const { config, engine, deps } = parts;
  return attachWebSocket({
    server: parts.server,
    yoga: parts.yoga,
    path: GRAPHQL_PATH,
    inFlight: parts.inFlight,
    isDraining: parts.draining,
    production: config.production,
    connectionInitTimeoutMs: config.wsConnectionInitTimeoutMs,
    maxOperationsPerSocket: config.wsMaxOperationsPerSocket,
    auth: createWebSocketAuth({
      authenticator: parts.authenticator,
      apiKeys: engine.apiKeys,
      maxConnectionsPerKey: config.wsMaxConnectionsPerKey,
    }),
    ...deps.websocket,
    sharing: {
      ...deps.websocket?.sharing,
      // A websocket that reads too slowly loses the oldest of its live tail here: count it.
      onDrop: (plan) => {
        if (plan.rootField === 'messages') engine.losses.count('', null, 'live_dropped');
      },
    },
  });
}
