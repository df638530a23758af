import { join } from 'node:path';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const MiB = 1024 * 1024;

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
   * `NODE_ENV === 'production'`.
   * @default false
   */
  production: boolean;
}

/** The environment holds invalid settings; the message has one line per bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

/** Reads and validates the environment; throws a {@link ConfigError} listing every bad value at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const read = createReader(env);
  const config = {
    port: read('PORT', 4000, integer(0, 65535)),
    host: read('HOST', '127.0.0.1', nonBlank('a host name or IP address')),
    redisUrl: read('REDIS_URL', null, redisUrl),
    dataDir: read('SWITCHYARD_DATA_DIR', '.switchyard', nonBlank('a directory path')),
    keyPrefix: read('SWITCHYARD_PREFIX', 'sy', keyPrefix),
    topologyFile: read('SWITCHYARD_TOPOLOGY', null, nonBlank('a path to a JSON topology file')),
    dedupWindowMs: read('SWITCHYARD_DEDUP_WINDOW_MS', 24 * HOUR, integer(1)),
    defaultMaxMessageBytes: read('SWITCHYARD_MAX_MESSAGE_BYTES', 1 * MiB, integer(1, 64 * MiB, '64 MiB')),
    shutdownTimeoutMs: read('SWITCHYARD_SHUTDOWN_TIMEOUT_MS', 30 * SECOND, integer(1)),
    logLevel: read('SWITCHYARD_LOG_LEVEL', 'info', oneOf(LOG_LEVELS)),
    graphiql: read('SWITCHYARD_GRAPHIQL', true, boolean),
    production: env.NODE_ENV === 'production',
  } satisfies Config;
  read.throwIfInvalid();
  return config;
}

/** Where the embedded redis-server keeps its AOF. */
export function embeddedRedisDir(config: Pick<Config, 'dataDir'>): string {
  return join(config.dataDir, 'redis');
}

/** Turns a raw value into a setting, or undefined when it is not acceptable. */
interface Parser<T> {
  /** What a valid value looks like, for the error message. */
  expected: string;
  parse(raw: string): T | undefined;
}

interface Reader {
  <T, D extends T | null>(name: string, fallback: D, parser: Parser<T>): T | D;
  throwIfInvalid(): void;
}

function createReader(env: NodeJS.ProcessEnv): Reader {
  const problems: string[] = [];
  const read = <T, D extends T | null>(name: string, fallback: D, parser: Parser<T>): T | D => {
    const raw = env[name];
    // Compose files and shells often set a variable to '' to mean "leave it at the default".
    if (raw === undefined || raw === '') return fallback;
    const value = parser.parse(raw);
    if (value !== undefined) return value;
    problems.push(`${name}: got ${shown(name, raw)}, expected ${parser.expected}`);
    return fallback;
  };
  return Object.assign(read, {
    throwIfInvalid: () => {
      if (problems.length > 0) throw new ConfigError(problems);
    },
  });
}

const SECRET_NAME = /KEY|SECRET|TOKEN|PASSWORD/i;

/** A value as it may appear in a message: JSON-quoted so one problem stays on one line, secrets withheld. */
function shown(name: string, raw: string): string {
  if (SECRET_NAME.test(name)) return '<redacted>';
  if (name === 'REDIS_URL') return JSON.stringify(withoutCredentials(raw));
  return JSON.stringify(raw);
}

/**
 * Masks everything between the scheme and the last '@'. Works on text that does not parse as a URL too,
 * which is exactly when we cannot ask a URL parser where the password is.
 */
function withoutCredentials(raw: string): string {
  const at = raw.lastIndexOf('@');
  if (at < 0) return raw;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(raw)?.[0] ?? '';
  return `${scheme}***${raw.slice(at)}`;
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER, maxLabel?: string): Parser<number> {
  const expected =
    max === Number.MAX_SAFE_INTEGER
      ? min === 1
        ? 'a positive integer'
        : `an integer of at least ${min}`
      : `an integer from ${min} to ${max}${maxLabel ? ` (${maxLabel})` : ''}`;
  return {
    expected,
    parse: (raw) => {
      if (!/^\d+$/.test(raw)) return undefined;
      const value = Number(raw);
      return Number.isSafeInteger(value) && value >= min && value <= max ? value : undefined;
    },
  };
}

function nonBlank(expected: string): Parser<string> {
  return { expected, parse: (raw) => (raw.trim() === '' ? undefined : raw) };
}

function oneOf<const T extends string>(values: readonly T[]): Parser<T> {
  return {
    expected: `one of ${values.join(', ')}`,
    parse: (raw) => values.find((value) => value === raw),
  };
}

// A Map, not an object literal, so that 'constructor' and friends are not mistaken for booleans.
const BOOLEANS = new Map([
  ['true', true],
  ['1', true],
  ['false', false],
  ['0', false],
]);

const boolean: Parser<boolean> = {
  expected: 'true, false, 1 or 0',
  parse: (raw) => BOOLEANS.get(raw.toLowerCase()),
};

const keyPrefix: Parser<string> = {
  expected: '1 to 32 characters from A-Z, a-z, 0-9, _ and -',
  parse: (raw) => (/^[A-Za-z0-9_-]{1,32}$/.test(raw) ? raw : undefined),
};

const redisUrl: Parser<string> = {
  expected: 'a redis:// or rediss:// URL with a host',
  parse: (raw) => {
    const url = URL.canParse(raw) ? new URL(raw) : null;
    const ok =
      url !== null && (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
    return ok ? raw : undefined;
  },
};
