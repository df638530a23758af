import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startRedisServer } from '../../server/redis-process.js';

/** A private redis-server for one test file, with AOF on so restarts keep data. */
export interface TestRedis {
  readonly url: string;
  readonly port: number;
  /** Closes every client from `client()`, stops the server and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Same port and data dir; tracked clients reconnect on their own. */
  restart(): Promise<void>;
  /** FLUSHALL, for a clean slate between tests. */
  flush(): Promise<void>;
  /** A new client with `maxRetriesPerRequest: null` (as BullMQ requires), closed by `stop`. */
  client(): Redis;
}

export async function startTestRedis(): Promise<TestRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-redis-'));
  const server = await startRedisServer({ dir, appendOnly: true, appendFsync: 'everysec' }).catch(
    async (error: unknown) => {
      await rm(dir, { recursive: true, force: true });
      throw error;
    },
  );
  const clients = new Set<Redis>();
  const client = () => {
    const redis = new Redis(server.url, { maxRetriesPerRequest: null });
    clients.add(redis);
    // Closed clients drop out, so long test files do not pile them up.
    redis.once('end', () => clients.delete(redis));
    return redis;
  };
  let stopping: Promise<void> | undefined;
  const stop = async () => {
    for (const redis of clients) redis.disconnect();
    clients.clear();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
  return {
    url: server.url,
    port: server.port,
    stop: () => {
      stopping ??= stop();
      return stopping;
    },
    restart: () => server.restart(),
    flush: () => flushAll(server.url),
    client,
  };
}

async function flushAll(url: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
  try {
    await redis.connect();
    await redis.flushall();
  } finally {
    redis.disconnect();
  }
}

/** A key prefix of its own for each test, so tests sharing a server never see each other's keys. */
export function uniquePrefix(): string {
  return `t${randomUUID().slice(0, 8)}`;
}

export interface WaitForOptions {
  /**
   * Give up after this long.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Pause between polls.
   * @default 20
   */
  intervalMs?: number;
  /**
   * Message of the error thrown on timeout; say what was expected.
   * @default 'waitFor: condition not met within <timeoutMs> ms'
   */
  message?: string;
}

/**
 * Polls `fn` until it returns a truthy value and returns that value. A throwing `fn` counts as
 * "not yet" (its last error becomes the timeout error's cause). The only sanctioned way for tests
 * to wait on a condition: fixed sleeps are either flaky or slow.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, options: WaitForOptions = {}): Promise<T> {
  const { timeoutMs = 5000, intervalMs = 20 } = options;
  const message = options.message ?? `waitFor: condition not met within ${timeoutMs} ms`;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await beforeDeadline(fn, deadline);
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) throw new Error(message, { cause: lastError });
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

const TIMED_OUT = Symbol('timed out');

/** A hanging `fn` must not hang the test past its own deadline. */
async function beforeDeadline<T>(fn: () => T | Promise<T>, deadline: number): Promise<T | undefined> {
  const controller = new AbortController();
  const timeout = sleep(Math.max(0, deadline - Date.now()), TIMED_OUT, { signal: controller.signal }).catch(
    () => TIMED_OUT,
  );
  try {
    const value = await Promise.race([Promise.resolve().then(fn), timeout]);
    return value === TIMED_OUT ? undefined : (value as T);
  } finally {
    controller.abort();
  }
}
