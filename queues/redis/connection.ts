import { Cluster, type ClusterOptions, Redis } from 'ioredis';

/**
 * A connection to Redis: one server or a Redis Cluster. Both speak the same commands (ioredis gives
 * them one command interface); a Cluster routes each command to the master of its key's slot.
 */
export type RedisClient = Redis | Cluster;

/** A seed node of a Redis Cluster: the client learns the rest of the cluster from it. */
export interface ClusterNode {
  host: string;
  port: number;
}

/**
 * Where Redis is: a redis:// URL, or the seed nodes of a Redis Cluster (and its password).
 * Every connection the engine opens, BullMQ's included, is opened from this by {@link openRedis}.
 */
export type RedisTarget = { url: string } | { clusterNodes: ClusterNode[]; password?: string | null };

/** The options a connection is opened with; the same for one server and for a cluster. */
export interface ConnectionOptions {
  /** Queue commands while disconnected (false: fail at once, so a publish answers UNAVAILABLE). */
  enableOfflineQueue?: boolean;
  /** Retries of a command after a lost connection; null waits (BullMQ's workers require null). */
  maxRetriesPerRequest?: number | null;
  /** Connect on `connect()` rather than at once. */
  lazyConnect?: boolean;
}

export const isCluster = (
  target: RedisTarget,
): target is Extract<RedisTarget, { clusterNodes: ClusterNode[] }> => 'clusterNodes' in target;

/**
 * Opens a client on the target. On a cluster, the node connections get the per-command options
 * (`maxRetriesPerRequest`) and the cluster the queueing ones; ioredis follows MOVED and ASK, and
 * after a failover refreshes its slot map and sends to the promoted replica.
 */
export function openRedis(target: RedisTarget, options: ConnectionOptions = {}): RedisClient {
  if (!isCluster(target)) return new Redis(target.url, options);
  const redisOptions: ClusterOptions['redisOptions'] = {
    maxRetriesPerRequest: options.maxRetriesPerRequest,
    ...(target.password ? { password: target.password } : {}),
  };
  const clusterOptions: ClusterOptions = {
    redisOptions,
    lazyConnect: options.lazyConnect,
    enableOfflineQueue: options.enableOfflineQueue ?? true,
    // A slot map refresh that hangs must not hold commands forever.
    slotsRefreshTimeout: 2_000,
  };
  return new Cluster(target.clusterNodes, clusterOptions);
}
