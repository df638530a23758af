import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../queues/engine/engine.js';
import { ConfigError, loadConfig, redisTargetOf } from '../../server/config.js';

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

/** A loopback port nobody listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

describe('REDIS_CLUSTER_NODES', () => {
  it('should read seed nodes, IPv6 in brackets too, and the password', () => {
    const config = loadConfig({
      REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-2.internal:7001,[::1]:7002',
      REDIS_PASSWORD: 's3cret',
      REDIS_URL: 'redis://127.0.0.1:6379',
    });
    expect(config.redisClusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-2.internal', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    // The cluster wins: REDIS_URL is not used.
    expect(redisTargetOf(config)).toEqual({
      clusterNodes: config.redisClusterNodes,
      password: 's3cret',
    });
  });

  it('should leave a single Redis alone when it is unset', () => {
    const config = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(config.redisClusterNodes).toBeNull();
    expect(redisTargetOf(config)).toEqual({ url: 'redis://127.0.0.1:6379' });
  });

  it.each([
    '10.0.0.1',
    '10.0.0.1:',
    '10.0.0.1:0',
    '10.0.0.1:70000',
    'redis://10.0.0.1:7000',
    '10.0.0.1:7000,,10.0.0.2:7000',
    'a b:7000',
    '[::1:7000',
  ])('should refuse %j naming the variable', (value) => {
    const error = configError({ REDIS_CLUSTER_NODES: value });
    expect(error.problems).toEqual([
      `REDIS_CLUSTER_NODES: got ${JSON.stringify(value)}, expected a comma-separated list of host:port (e.g. 10.0.0.1:7000,10.0.0.2:7000)`,
    ]);
  });

  it('should never echo REDIS_PASSWORD', () => {
    const error = configError({ REDIS_PASSWORD: '   ', REDIS_CLUSTER_NODES: 'x' });
    expect(error.message).toContain('REDIS_PASSWORD: got <redacted>');
  });

  it('should fail, not hang, when no seed node answers', async () => {
    const port = await closedPort();
    const started = Date.now();
    await expect(
      createEngine({ redis: { clusterNodes: [{ host: '127.0.0.1', port }] }, onError: () => {} }),
    ).rejects.toThrow(/startup nodes|ECONNREFUSED|Connection is closed/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
