/**
 * Where the bench's Redis is, as one string every process can take from its arguments or env: a
 * redis:// URL, or `cluster://host:port,host:port,…` for a Redis Cluster (`--cluster`).
 */
import { type ConnectionOptions, openRedis, type RedisClient } from '../queues/redis/index.js';

const CLUSTER = 'cluster://';

/** The spec of a cluster whose seed nodes are these loopback ports. */
export const clusterSpec = (ports: readonly number[]) =>
  `${CLUSTER}${ports.map((port) => `127.0.0.1:${port}`).join(',')}`;

export const isClusterSpec = (spec: string) => spec.startsWith(CLUSTER);

/** A connection to the bench's Redis (a Cluster client for a cluster spec); BullMQ's options by default. */
export function benchRedis(
  spec: string,
  options: ConnectionOptions = { maxRetriesPerRequest: null },
): RedisClient {
  if (!isClusterSpec(spec)) return openRedis({ url: spec }, options);
  const clusterNodes = spec
    .slice(CLUSTER.length)
    .split(',')
    .map((node) => {
      const [host = '', port = ''] = node.split(':');
      return { host, port: Number(port) };
    });
  return openRedis({ clusterNodes }, options);
}

/** The gateway's environment for this Redis: REDIS_CLUSTER_NODES for a cluster, REDIS_URL otherwise. */
export const gatewayRedisEnv = (spec: string): Record<string, string> =>
  isClusterSpec(spec) ? { REDIS_CLUSTER_NODES: spec.slice(CLUSTER.length) } : { REDIS_URL: spec };

/**
 * Raw BullMQ's `prefix` on this Redis: on a cluster BullMQ needs a hash tag in it, so that each
 * queue's keys (and its Lua calls) stay in one slot.
 */
export const rawPrefixFor = (spec: string, prefix: string) => (isClusterSpec(spec) ? `{${prefix}}` : prefix);
