import { isRedisUnavailable } from '../queues/core/index.js';
import { type Config, ConfigError, embeddedRedisDir, loadConfig } from './config.js';
import { createGateway, type Gateway } from './gateway.js';
import { createLogger, type Logger, redactUrl } from './logger.js';
import {
  findRedisServer,
  REDIS_SERVER_MISSING_MESSAGE,
  type RedisProcess,
  startRedisServer,
} from './redis-process.js';
import { applyTopology, TopologyError } from './topology.js';

/** Exit codes: 1 for a failure at run time, 2 for settings the operator has to fix. */
const EXIT_FAILURE = 1;
const EXIT_BAD_CONFIG = 2;

/**
 * The start command: config, the embedded Redis unless REDIS_URL is set, the topology file, the
 * gateway. The first SIGTERM/SIGINT drains (gateway, then the embedded Redis so its AOF is flushed),
 * a second one exits at once, and nothing new starts once shutdown has begun (graphile-worker's rule).
 */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(EXIT_BAD_CONFIG);
  }
  const logger = createLogger({ level: config.logLevel });

  let redis: RedisProcess | null = null;
  let gateway: Gateway | null = null;
  let shuttingDown: Promise<void> | null = null;

  async function shutdown(): Promise<void> {
    // Wait for a start step already under way, so whatever it opens is closed too (each step is bounded).
    await startup.catch(() => {});
    const results = await Promise.allSettled([gateway?.stop()]);
    // Redis last: the engine's final writes (completing in-flight deliveries) must reach it.
    results.push(...(await Promise.allSettled([redis?.stop()])));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      logger.warn({ signal }, 'Second signal: exiting without waiting for the drain');
      process.exit(EXIT_FAILURE);
    }
    logger.info({ signal }, 'Shutting down: draining requests and in-flight deliveries');
    shuttingDown = shutdown();
    shuttingDown.then(
      () => {
        logger.info('Stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'Shutdown did not complete cleanly');
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const stopped = () => shuttingDown !== null;
  const startup = (async () => {
    let redisUrl = config.redisUrl;
    const cluster = config.redisClusterNodes;
    if (!redisUrl && !cluster) {
      if (!findRedisServer()) {
        process.stderr.write(`${REDIS_SERVER_MISSING_MESSAGE}\n`);
        process.exit(EXIT_FAILURE);
      }
      const dir = embeddedRedisDir(config);
      redis = await startRedisServer({ dir, appendOnly: true });
      redisUrl = redis.url;
      logger.info({ redisPid: redis.pid, port: redis.port, dir }, 'Started embedded redis-server (AOF on)');
    }
    if (stopped()) return;
    // REDIS_CLUSTER_NODES wins over REDIS_URL (docs/CONFIGURATION.md).
    const where = cluster
      ? `the Redis Cluster at ${cluster.map((node) => `${node.host}:${node.port}`).join(',')}`
      : redactUrl(redisUrl ?? '');
    gateway = await createGateway({ ...config, redisUrl }, { logger }).catch((error: unknown) => {
      if (!isRedisUnavailable(error)) throw error;
      throw new Error(`Cannot connect to Redis at ${where}`, { cause: error });
    });
    if (stopped()) return;
    if (config.topologyFile) await applyTopologyFile(gateway, config.topologyFile, logger);
    if (stopped()) return;
    const { url } = await gateway.start();
    const dashboard = config.dashboard ? url.replace(/\/graphql$/, '/dashboard/') : undefined;
    logger.info(
      { url, dashboard, redis: where, embeddedRedis: redis !== null },
      `Switchyard listening on ${url}`,
    );
  })();

  try {
    await startup;
  } catch (error) {
    if (shuttingDown) return;
    if (error instanceof TopologyError) process.stderr.write(`${error.message}\n`);
    else logger.fatal({ err: error }, 'Switchyard failed to start');
    shuttingDown = shutdown().catch((stopError: unknown) =>
      logger.error({ err: stopError }, 'Cleanup after the failed start did not complete'),
    );
    await shuttingDown;
    process.exit(EXIT_FAILURE);
  }
}

async function applyTopologyFile(gateway: Gateway, file: string, logger: Logger): Promise<void> {
  const report = await applyTopology(gateway.engine, file);
  for (const warning of report.warnings) logger.warn({ file }, warning);
  logger.info(
    {
      file,
      createdTopics: report.createdTopics,
      createdQueues: report.createdQueues,
      updatedQueues: report.updatedQueues,
      unchanged: report.unchanged.length,
    },
    'Applied topology',
  );
}

void main();
