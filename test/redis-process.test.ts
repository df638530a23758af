import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRedisServer, RedisStartError, startRedisServer } from '../server/redis-process.js';
import { startTestRedis, type TestRedis, uniquePrefix, waitFor } from './helpers/redis.js';

describe('redis-server child process', () => {
  let redis: TestRedis;

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('answers PING on a loopback port', async () => {
    expect(redis.port).toBeGreaterThan(0);
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(await redis.client().ping()).toBe('PONG');
  });

  it('runs with the AOF on', async () => {
    const client = redis.client();
    const [, appendonly] = (await client.config('GET', 'appendonly')) as string[];
    const [, fsync] = (await client.config('GET', 'appendfsync')) as string[];
    expect([appendonly, fsync]).toEqual(['yes', 'everysec']);
    await client.set(`${uniquePrefix()}:k`, 'v');
  });

  it('keeps data across a restart thanks to the AOF', async () => {
    const key = `${uniquePrefix()}:survivor`;
    const client = redis.client();
    await client.set(key, 'still here');
    await redis.restart();
    // The tracked client reconnects by itself; a fresh one proves the server, not a cache, has the data.
    expect(await redis.client().get(key)).toBe('still here');
    expect(await waitFor(() => client.get(key))).toBe('still here');
  });

  it('flush empties the server', async () => {
    const client = redis.client();
    await client.set(`${uniquePrefix()}:gone`, '1');
    await redis.flush();
    expect(await client.dbsize()).toBe(0);
  });
});

describe('startRedisServer', () => {
  it('stop is idempotent and reports the exit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'switchyard-redis-'));
    try {
      const server = await startRedisServer({ dir });
      await server.stop();
      await expect(server.stop()).resolves.toBeUndefined();
      expect(await server.exited).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives two servers running at once different ports', async () => {
    const [a, b] = await Promise.all([startTestRedis(), startTestRedis()]);
    try {
      expect(a.port).not.toBe(b.port);
      expect(await a.client().ping()).toBe('PONG');
      expect(await b.client().ping()).toBe('PONG');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('fails cleanly when a fixed port is taken', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'switchyard-redis-'));
    const blocker = await listenOnFreePort();
    try {
      const port = (blocker.address() as { port: number }).port;
      await expect(startRedisServer({ dir, port })).rejects.toThrow(RedisStartError);
    } finally {
      blocker.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('creates a missing data dir', async () => {
    const root = await mkdtemp(join(tmpdir(), 'switchyard-redis-'));
    try {
      const server = await startRedisServer({ dir: join(root, 'a', 'b') });
      await server.stop();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('findRedisServer', () => {
  it('finds redis-server on PATH', () => {
    expect(findRedisServer()).toBe('/usr/bin/redis-server');
    expect(findRedisServer('/nonexistent:/usr/bin')).toBe('/usr/bin/redis-server');
    expect(findRedisServer('/nonexistent')).toBeNull();
  });
});

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let calls = 0;
    expect(await waitFor(() => ++calls >= 3 && calls)).toBe(3);
  });

  it('throws the given message on timeout, even when fn hangs', async () => {
    await expect(
      waitFor(() => new Promise<boolean>(() => {}), { timeoutMs: 50, message: 'never' }),
    ).rejects.toThrow('never');
  });
});

function listenOnFreePort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
