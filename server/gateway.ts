import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Plugin } from 'graphql-yoga';
import packageJson from '../package.json' with { type: 'json' };
import { createEngine, type Engine } from '../queues/engine/index.js';
import type { LiveOptions } from '../queues/live/index.js';
import { createAuthenticator } from './auth.js';
import { createBullBoardMount } from './bull-board.js';
import { type Config, redisTargetOf } from './config.js';
import { defaultDashboardDir, loadDashboard, useDashboard } from './dashboard.js';
import { createInFlight } from './in-flight.js';
import { createJsonPostPath } from './json-post.js';
import { createLogger, type Logger } from './logger.js';
import { engineSecurityOptions, requestLimits } from './security-config.js';
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
/** The same background error (a Redis reconnect failing, say) is logged at most once per this window. */
const ERROR_LOG_WINDOW_MS = 10_000;

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
  const engine = await createEngine({
    redis,
    keyPrefix: config.keyPrefix,
    dedupWindowMs: config.dedupWindowMs,
    defaultMaxMessageBytes: config.defaultMaxMessageBytes,
    onError: throttledErrorLog(logger),
    // Nobody reads them with /metrics off; their GC observer and event-loop monitor need not run.
    processMetrics: config.metrics,
    live: deps.live,
    ...engineSecurityOptions(config),
    alerts: {
      intervalMs: config.alertIntervalMs,
      thresholds: {
        // An interval of 0 turns every kind off, so none fires from a manual evaluation either.
        lagMs: config.alertIntervalMs > 0 ? config.alertLagMs : 0,
        depth: config.alertIntervalMs > 0 ? config.alertDepth : 0,
        deadLetters: config.alertIntervalMs > 0 ? config.alertDeadLetters : 0,
        circuitOpen: config.alertIntervalMs > 0 && config.alertCircuit,
        deliveryLatencyMs: config.alertIntervalMs > 0 ? config.alertDeliveryLatencyMs : 0,
        failureRate: config.alertIntervalMs > 0 ? config.alertFailureRate : 0,
        retries: config.alertIntervalMs > 0 ? config.alertRetries : 0,
      },
      windowMs: config.alertWindowMs,
      webhook: config.alertWebhookUrl
        ? { url: config.alertWebhookUrl, secret: config.alertWebhookSecret }
        : null,
      onTransition: ({ state, alert }) => {
        const fields = {
          alert: alert.id,
          kind: alert.kind,
          topic: alert.topic,
          queue: alert.queue,
          value: alert.value,
        };
        if (state === 'FIRING') logger.warn(fields, `Alert firing: ${alert.message}`);
        else logger.info(fields, `Alert resolved: ${alert.message}`);
      },
    },
    circuit: {
      failures: config.circuitFailures,
      cooldownMs: config.circuitCooldownMs,
      maxCooldownMs: config.circuitMaxCooldownMs,
    },
    deadLetters: {
      retentionMs: config.deadLetterRetentionMs,
      archiveDir: config.deadLetterArchiveDir,
      redactHeaders: config.redactHeaders,
    },
  });
  const authenticator = createAuthenticator({
    adminKey: config.adminKey,
    apiKeys: engine.apiKeys,
    corsOrigins: config.corsOrigins,
    startedAt,
  });

  let phase: Phase = 'created';
  const draining = () => phase === 'draining' || phase === 'stopped';
  const inFlight = createInFlight();

  async function health(): Promise<HealthReport> {
    // The watchdog's verdict first: a frozen Redis answers 503 at once, not after the ping's timeout.
    const redis =
      engine.redis.available &&
      (await Promise.race([engine.redisHealthy(), sleep(HEALTH_PING_TIMEOUT_MS, false)]));
    return {
      ok: redis && phase === 'listening',
      redis,
      workers: engine.webhookWorkers,
      draining: draining(),
      version,
      uptimeSeconds: (Date.now() - startedAt) / 1000,
    };
  }

  const dashboardFiles = config.dashboard
    ? await loadDashboard(deps.dashboardDir ?? defaultDashboardDir())
    : null;
  if (config.dashboard && dashboardFiles === null) {
    logger.warn('The web dashboard is not built, so /dashboard/ answers 404; `npm run build` builds it');
  }

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
  // Attached once the port is bound: ws re-emits the HTTP server's errors, and graphql-ws answers any
  // such error by closing every socket and printing it, which a failed listen() must not trigger.
  let websocket: AttachedWebSocket | null = null;

  let starting: Promise<{ port: number; url: string }> | null = null;
  let stopping: Promise<void> | null = null;

  async function listen(): Promise<{ port: number; url: string }> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // A stop() that began while we were binding wins: close what we just opened.
    if (draining()) {
      server.close();
      throw new Error('The gateway was stopped while starting');
    }
    server.on('error', (error) => logger.error({ err: error }, 'HTTP server error'));
    websocket = attachWebSocket({
      server,
      yoga,
      path: GRAPHQL_PATH,
      inFlight,
      isDraining: draining,
      production: config.production,
      connectionInitTimeoutMs: config.wsConnectionInitTimeoutMs,
      maxOperationsPerSocket: config.wsMaxOperationsPerSocket,
      auth: createWebSocketAuth({
        authenticator,
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
    phase = 'listening';
    logger.info(authenticator.describe(config.host));
    const { port } = server.address() as AddressInfo;
    return { port, url: `http://${urlHost(config.host)}:${port}${GRAPHQL_PATH}` };
  }

  async function drain(): Promise<void> {
    phase = 'draining';
    // Nothing new starts from here: no webhook delivery, no fetch for a consume stream or a receive.
    const workStopped = engine.stopTakingWork();
    // Subscriptions over HTTP (SSE) would keep their requests in flight for ever: end them first.
    subscriptionDrain.drain();
    // So would a request waiting for its reply, until its timeout: it answers UNAVAILABLE now.
    const requestsStopped = engine.stopRequests();
    // Stop accepting connections (the callback also comes, with an error we ignore, if we never listened);
    // idle keep-alive connections close now, busy ones once their response is out.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await inFlight.idle();
    // Let graphql-ws send the results of executions that just settled before the 1001 close frame.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await websocket?.dispose();
    server.closeAllConnections();
    await Promise.all([closed, requestsStopped, workStopped, engine.close(), bullBoard?.close()]);
  }

  async function shutdown(): Promise<void> {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs);
    });
    const drained = drain();
    try {
      const outcome = await Promise.race([drained.then(() => 'drained' as const), timedOut]);
      if (outcome === 'timeout') {
        server.closeAllConnections();
        websocket?.terminate();
        // The engine keeps closing in the background; its in-flight jobs are redelivered if we exit first.
        drained.catch((error: unknown) => logger.error({ err: error }, 'Shutdown failed after the timeout'));
        throw new Error(
          `Graceful shutdown did not finish within ${config.shutdownTimeoutMs} ms: connections were cut with ` +
            `${inFlight.size} request(s) in flight; unfinished webhook deliveries will be redelivered`,
        );
      }
      logger.debug({ ms: Date.now() - started }, 'Gateway stopped');
    } finally {
      clearTimeout(timer);
      phase = 'stopped';
    }
  }

  return {
    engine,
    yoga,
    get inFlight() {
      return inFlight.size;
    },
    get sharedSubscriptions() {
      return websocket?.shared ?? { groups: 0, listeners: 0 };
    },
    start() {
      if (stopping) return Promise.reject(new Error('The gateway is stopping; it cannot start again'));
      starting ??= listen();
      return starting;
    },
    stop() {
      stopping ??= shutdown();
      return stopping;
    },
  };
}

/** A host usable in a URL: brackets for IPv6, and a wildcard bind reachable as localhost. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Redis reconnect attempts fail every couple of seconds on every connection while Redis is away;
 * one line per distinct error per window says the same thing without burying everything else.
 */
function throttledErrorLog(logger: Logger): (error: Error) => void {
  const lastLogged = new Map<string, number>();
  return (error) => {
    const now = Date.now();
    const last = lastLogged.get(error.message);
    if (last !== undefined && now - last < ERROR_LOG_WINDOW_MS) return;
    // Messages can carry addresses or ids; forget them all now and then rather than grow without bound.
    if (lastLogged.size >= 100) lastLogged.clear();
    lastLogged.set(error.message, now);
    logger.warn({ err: error }, 'Background error');
  };
}
