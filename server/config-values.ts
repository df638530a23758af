/**
 * How a setting's raw text becomes its value: the reader that collects every problem at once, and
 * one parser per kind of value. server/config.ts names the settings; this says what each may be.
 */
import type { ClusterNode } from '../queues/redis/index.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
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

export function createReader(env: NodeJS.ProcessEnv): Reader {
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

// Webhook URLs count: chat and incident services put their token in the path.
const SECRET_NAME = /KEY|SECRET|TOKEN|PASSWORD|WEBHOOK_URL/i;

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

export function integer(min: number, max = Number.MAX_SAFE_INTEGER, maxLabel?: string): Parser<number> {
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

/** A number from 0 to 1, in decimal (`0.01`). */
export const fraction: Parser<number> = {
  expected: 'a number from 0 to 1 (0.01 is 1 %)',
  parse: (raw) => {
    if (!/^(0|1)?(\.\d+)?$/.test(raw) || raw === '' || raw === '.') return undefined;
    const value = Number(raw);
    return value >= 0 && value <= 1 ? value : undefined;
  },
};

export function nonBlank(expected: string): Parser<string> {
  return { expected, parse: (raw) => (raw.trim() === '' ? undefined : raw) };
}

export function oneOf<const T extends string>(values: readonly T[]): Parser<T> {
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

export const boolean: Parser<boolean> = {
  expected: 'true, false, 1 or 0',
  parse: (raw) => BOOLEANS.get(raw.toLowerCase()),
};

export const keyPrefix: Parser<string> = {
  expected: '1 to 32 characters from A-Z, a-z, 0-9, _ and -',
  parse: (raw) => (/^[A-Za-z0-9_-]{1,32}$/.test(raw) ? raw : undefined),
};

export const adminKey: Parser<string> = {
  expected: '16 to 256 characters without spaces (e.g. openssl rand -base64 32)',
  parse: (raw) => (/^\S{16,256}$/.test(raw) ? raw : undefined),
};

/** Origins as browsers send them: scheme, host and port, no path. */
export const headerGlobs: Parser<string[]> = {
  expected: 'a comma-separated list of header names, * matching any run of characters (x-api-key,*token*)',
  parse: (raw) => {
    const list = raw
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '');
    return list.length > 0 && list.every((name) => /^[A-Za-z0-9*_.-]{1,128}$/.test(name)) ? list : undefined;
  },
};

export const origins: Parser<string[]> = {
  expected: 'a comma-separated list of origins such as https://dash.example.com, or *',
  parse: (raw) => {
    const list = raw
      .split(',')
      .map((origin) => origin.trim().replace(/\/$/, ''))
      .filter((origin) => origin !== '');
    const valid = list.every(
      (origin) => origin === '*' || (URL.canParse(origin) && new URL(origin).origin === origin),
    );
    return valid && list.length > 0 ? list : undefined;
  },
};

export const httpUrl: Parser<string> = {
  expected: 'an http:// or https:// URL',
  parse: (raw) => {
    const url = URL.canParse(raw) ? new URL(raw) : null;
    return url !== null && (url.protocol === 'http:' || url.protocol === 'https:') ? raw : undefined;
  },
};

export const signingSecret: Parser<string> = {
  expected: 'a Standard Webhooks secret: whsec_ and base64 (24 to 64 bytes)',
  parse: (raw) => {
    const encoded = raw.startsWith('whsec_') ? raw.slice('whsec_'.length) : raw;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return undefined;
    const bytes = Buffer.from(encoded, 'base64').length;
    return bytes >= 24 && bytes <= 64 ? raw : undefined;
  },
};

/** `host:port` or `[v6]:port`, comma-separated: the seed nodes of a Redis Cluster. */
export const clusterNodes: Parser<ClusterNode[]> = {
  expected: 'a comma-separated list of host:port (e.g. 10.0.0.1:7000,10.0.0.2:7000)',
  parse: (raw) => {
    const nodes: ClusterNode[] = [];
    for (const item of raw.split(',')) {
      const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(item.trim());
      const port = Number(match?.[3]);
      if (!match || port < 1 || port > 65535) return undefined;
      nodes.push({ host: (match[1] ?? match[2]) as string, port });
    }
    return nodes.length > 0 ? nodes : undefined;
  },
};

export const redisUrl: Parser<string> = {
  expected: 'a redis:// or rediss:// URL with a host',
  parse: (raw) => {
    const url = URL.canParse(raw) ? new URL(raw) : null;
    const ok =
      url !== null && (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
    return ok ? raw : undefined;
  },
};
