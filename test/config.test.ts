import { describe, expect, it } from 'vitest';
import { type Config, ConfigError, embeddedRedisDir, loadConfig } from '../server/config.js';
import { engineOptions } from '../server/engine-options.js';
import { createLogger } from '../server/logger.js';

const DEFAULTS: Config = {
  port: 4000,
  host: '127.0.0.1',
  redisUrl: null,
  redisClusterNodes: null,
  redisPassword: null,
  dataDir: '.switchyard',
  keyPrefix: 'sy',
  topologyFile: null,
  dedupWindowMs: 24 * 60 * 60 * 1000,
  defaultMaxMessageBytes: 1024 * 1024,
  shutdownTimeoutMs: 30_000,
  queueDeleteWaitMs: 10_000,
  logLevel: 'info',
  graphiql: true,
  dashboard: true,
  metrics: true,
  httpFastPath: true,
  circuitFailures: 10,
  circuitCooldownMs: 30_000,
  circuitMaxCooldownMs: 600_000,
  alertIntervalMs: 15_000,
  alertLagMs: 300_000,
  alertDepth: 1000,
  alertDeadLetters: 1,
  alertCircuit: true,
  alertDeliveryLatencyMs: 1000,
  alertFailureRate: 0.01,
  alertRetries: 3,
  alertWindowMs: 60_000,
  alertWebhookUrl: null,
  alertWebhookSecret: null,
  production: false,
  adminKey: null,
  allowPrivateWebhooks: false,
  introspection: true,
  corsOrigins: [],
  maxDepth: 12,
  maxCost: 5000,
  maxAliases: 100,
  maxDirectives: 50,
  maxTokens: 10_000,
  maxRequestBytes: 16 * 1024 * 1024,
  maxBatchSize: 1000,
  rateLimitPerSecond: 1000,
  rateLimitBurst: 2000,
  signingSecretGraceMs: 24 * 60 * 60 * 1000,
  auditMaxEntries: 100_000,
  auditRetentionMs: 90 * 24 * 60 * 60 * 1000,
  wsConnectionInitTimeoutMs: 3000,
  wsMaxConnectionsPerKey: 100,
  wsMaxOperationsPerSocket: 100,
  deadLetterRetentionMs: 14 * 24 * 60 * 60 * 1000,
  deadLetterArchiveDir: null,
  redactHeaders: [
    'authorization',
    'proxy-authorization',
    'cookie',
    'set-cookie',
    'x-api-key',
    '*secret*',
    '*token*',
  ],
};

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('returns every default from an empty env', () => {
    expect(loadConfig({})).toEqual(DEFAULTS);
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '', REDIS_URL: '', SWITCHYARD_GRAPHIQL: '' })).toEqual(DEFAULTS);
  });

  it.each<[string, string, Partial<Config>]>([
    ['PORT', '8080', { port: 8080 }],
    ['PORT', '0', { port: 0 }],
    ['HOST', '0.0.0.0', { host: '0.0.0.0' }],
    ['REDIS_URL', 'redis://localhost:6380/2', { redisUrl: 'redis://localhost:6380/2' }],
    ['REDIS_URL', 'rediss://:pw@cache.example:6380', { redisUrl: 'rediss://:pw@cache.example:6380' }],
    ['SWITCHYARD_DATA_DIR', '/var/lib/switchyard', { dataDir: '/var/lib/switchyard' }],
    ['SWITCHYARD_PREFIX', 'prod_eu-1', { keyPrefix: 'prod_eu-1' }],
    ['SWITCHYARD_TOPOLOGY', './topology.json', { topologyFile: './topology.json' }],
    ['SWITCHYARD_DEDUP_WINDOW_MS', '60000', { dedupWindowMs: 60_000 }],
    ['SWITCHYARD_MAX_MESSAGE_BYTES', '2048', { defaultMaxMessageBytes: 2048 }],
    ['SWITCHYARD_MAX_MESSAGE_BYTES', String(64 * 1024 * 1024), { defaultMaxMessageBytes: 64 * 1024 * 1024 }],
    ['SWITCHYARD_SHUTDOWN_TIMEOUT_MS', '5000', { shutdownTimeoutMs: 5000 }],
    ['SWITCHYARD_QUEUE_DELETE_WAIT_MS', '60000', { queueDeleteWaitMs: 60_000 }],
    ['SWITCHYARD_QUEUE_DELETE_WAIT_MS', '0', { queueDeleteWaitMs: 0 }],
    [
      'SWITCHYARD_QUEUE_DELETE_WAIT_MS',
      String(12 * 60 * 60 * 1000),
      { queueDeleteWaitMs: 12 * 60 * 60 * 1000 },
    ],
    ['SWITCHYARD_LOG_LEVEL', 'debug', { logLevel: 'debug' }],
    ['SWITCHYARD_LOG_LEVEL', 'silent', { logLevel: 'silent' }],
    ['SWITCHYARD_GRAPHIQL', 'false', { graphiql: false }],
    ['SWITCHYARD_GRAPHIQL', '0', { graphiql: false }],
    ['SWITCHYARD_GRAPHIQL', '1', { graphiql: true }],
    ['SWITCHYARD_DASHBOARD', 'false', { dashboard: false }],
    ['SWITCHYARD_DASHBOARD', '1', { dashboard: true }],
    ['SWITCHYARD_METRICS', 'false', { metrics: false }],
    ['SWITCHYARD_ALERT_INTERVAL_MS', '0', { alertIntervalMs: 0 }],
    ['SWITCHYARD_ALERT_LAG_MS', '60000', { alertLagMs: 60_000 }],
    ['SWITCHYARD_ALERT_DEPTH', '10000', { alertDepth: 10_000 }],
    ['SWITCHYARD_ALERT_DEAD_LETTERS', '0', { alertDeadLetters: 0 }],
    ['SWITCHYARD_ALERT_CIRCUIT', 'false', { alertCircuit: false }],
    ['SWITCHYARD_ALERT_DELIVERY_LATENCY_MS', '250', { alertDeliveryLatencyMs: 250 }],
    ['SWITCHYARD_ALERT_FAILURE_RATE', '0.05', { alertFailureRate: 0.05 }],
    ['SWITCHYARD_ALERT_FAILURE_RATE', '1', { alertFailureRate: 1 }],
    ['SWITCHYARD_ALERT_FAILURE_RATE', '0', { alertFailureRate: 0 }],
    ['SWITCHYARD_ALERT_RETRIES', '5', { alertRetries: 5 }],
    ['SWITCHYARD_ALERT_WINDOW_MS', '300000', { alertWindowMs: 300_000 }],
    [
      'SWITCHYARD_ALERT_WEBHOOK_URL',
      'https://alerts.example/hooks/switchyard',
      { alertWebhookUrl: 'https://alerts.example/hooks/switchyard' },
    ],
    [
      'SWITCHYARD_ALERT_WEBHOOK_SECRET',
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      { alertWebhookSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
    ],
    ['NODE_ENV', 'production', { production: true }],
    ['NODE_ENV', 'development', { production: false }],
    ['SWITCHYARD_DEAD_LETTER_RETENTION_MS', '0', { deadLetterRetentionMs: 0 }],
    ['SWITCHYARD_DEAD_LETTER_ARCHIVE_DIR', '/var/archive', { deadLetterArchiveDir: '/var/archive' }],
    [
      'SWITCHYARD_REDACT_HEADERS',
      ' x-tenant-*, authorization ',
      { redactHeaders: ['x-tenant-*', 'authorization'] },
    ],
  ])('%s=%s overrides its default', (name, value, expected) => {
    expect(loadConfig({ [name]: value })).toEqual({ ...DEFAULTS, ...expected });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '4000.5'],
    ['HOST', '   '],
    ['REDIS_URL', 'localhost:6379'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['SWITCHYARD_PREFIX', 'has:colon'],
    ['SWITCHYARD_PREFIX', 'x'.repeat(33)],
    ['SWITCHYARD_DEDUP_WINDOW_MS', '0'],
    ['SWITCHYARD_DEDUP_WINDOW_MS', '1e3'],
    ['SWITCHYARD_MAX_MESSAGE_BYTES', '0'],
    ['SWITCHYARD_MAX_MESSAGE_BYTES', String(64 * 1024 * 1024 + 1)],
    ['SWITCHYARD_SHUTDOWN_TIMEOUT_MS', 'soon'],
    ['SWITCHYARD_QUEUE_DELETE_WAIT_MS', '-1'],
    ['SWITCHYARD_QUEUE_DELETE_WAIT_MS', '10s'],
    ['SWITCHYARD_QUEUE_DELETE_WAIT_MS', String(12 * 60 * 60 * 1000 + 1)],
    ['SWITCHYARD_LOG_LEVEL', 'verbose'],
    ['SWITCHYARD_GRAPHIQL', 'yes'],
    ['SWITCHYARD_GRAPHIQL', 'constructor'],
    ['SWITCHYARD_DEAD_LETTER_RETENTION_MS', '-1'],
    ['SWITCHYARD_REDACT_HEADERS', 'x api key'],
    ['SWITCHYARD_REDACT_HEADERS', ' , '],
    ['SWITCHYARD_ALERT_INTERVAL_MS', '-5'],
    ['SWITCHYARD_ALERT_DEPTH', 'many'],
    ['SWITCHYARD_ALERT_FAILURE_RATE', '1.5'],
    ['SWITCHYARD_ALERT_FAILURE_RATE', '-0.1'],
    ['SWITCHYARD_ALERT_FAILURE_RATE', '5%'],
    ['SWITCHYARD_ALERT_RETRIES', '-1'],
    ['SWITCHYARD_ALERT_WINDOW_MS', '10'],
  ])('rejects %s=%s, naming the variable and the value', (name, value) => {
    const error = configError({ [name]: value });
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain(name);
    expect(error.message).toContain(JSON.stringify(value));
    expect(error.message).toMatch(/expected /);
  });

  it('reports every bad value together, one per line', () => {
    const error = configError({
      PORT: 'x',
      SWITCHYARD_PREFIX: 'a b',
      SWITCHYARD_LOG_LEVEL: 'loud',
      SWITCHYARD_GRAPHIQL: 'maybe',
      HOST: 'fine.example',
    });
    const lines = error.message.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines.map((line) => line.split(':')[0])).toEqual([
      'PORT',
      'SWITCHYARD_PREFIX',
      'SWITCHYARD_LOG_LEVEL',
      'SWITCHYARD_GRAPHIQL',
    ]);
  });

  it('says what SWITCHYARD_QUEUE_DELETE_WAIT_MS takes', () => {
    expect(configError({ SWITCHYARD_QUEUE_DELETE_WAIT_MS: '10s' }).message).toBe(
      'SWITCHYARD_QUEUE_DELETE_WAIT_MS: got "10s", expected an integer from 0 to 43200000 (12 hours)',
    );
  });

  it('keeps a value with a newline on one line', () => {
    expect(configError({ SWITCHYARD_LOG_LEVEL: 'info\nPORT: forged' }).message.split('\n')).toHaveLength(1);
  });

  it.each([
    'http://user:hunter2@cache.example:6379',
    'redis://:hunter2@',
    'redis://user:hunter2@bad host:6379',
    'user:hunter2@localhost',
  ])('never echoes the REDIS_URL password (%s)', (value) => {
    const error = configError({ REDIS_URL: value });
    expect(error.message).toContain('REDIS_URL');
    expect(error.message).not.toContain('hunter2');
    expect(error.stack).not.toContain('hunter2');
  });
});

describe('engineOptions', () => {
  it('passes SWITCHYARD_QUEUE_DELETE_WAIT_MS on to the engine', () => {
    const config = loadConfig({ SWITCHYARD_QUEUE_DELETE_WAIT_MS: '2500' });
    const options = engineOptions(config, undefined, undefined, createLogger({ level: 'silent' }));
    expect(options.queueDeleteWaitMs).toBe(2500);
  });
});

describe('embeddedRedisDir', () => {
  it('lives under the data dir', () => {
    expect(embeddedRedisDir(loadConfig({ SWITCHYARD_DATA_DIR: '/srv/sy' }))).toBe('/srv/sy/redis');
  });
});
