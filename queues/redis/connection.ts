import { type ChainableCommander, Cluster, type ClusterOptions, Redis } from 'ioredis';

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
  /** Send again, after a reconnect, the commands a dropped connection left unanswered. @default true */
  autoResendUnfulfilledCommands?: boolean;
  /** Fail a command unanswered for this long (ms), "Command timed out". @default unbounded */
  commandTimeout?: number;
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
    autoResendUnfulfilledCommands: options.autoResendUnfulfilledCommands,
    commandTimeout: options.commandTimeout,
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

/**
 * Runs commands in pipelines: one per group on a Redis Cluster, where a pipeline must stay on one
 * node (give each item its hash tag's owner, e.g. the topic), and one pipeline on one Redis.
 * Answers each item's `[error, result]` pairs, flat, in the order of the items and their commands,
 * as one pipeline's `exec()` would.
 */
export async function execGrouped<T>(
  client: RedisClient,
  items: readonly T[],
  groupOf: (item: T) => string,
  queue: (pipeline: ChainableCommander, item: T) => void,
): Promise<[Error | null, unknown][]> {
  const groups = new Map<string, number[]>();
  items.forEach((item, index) => {
    const group = client.isCluster ? groupOf(item) : '';
    const list = groups.get(group);
    if (list) list.push(index);
    else groups.set(group, [index]);
  });
  const perItem: [Error | null, unknown][][] = Array.from({ length: items.length }, () => []);
  await Promise.all(
    [...groups.values()].map(async (indexes) => {
      const pipeline = client.pipeline();
      const counts = indexes.map((index) => {
        const before = pipeline.length;
        queue(pipeline, items[index] as T);
        return pipeline.length - before;
      });
      const results = (await pipeline.exec()) ?? [];
      let at = 0;
      indexes.forEach((index, position) => {
        const count = counts[position] as number;
        perItem[index] = results.slice(at, at + count);
        at += count;
      });
    }),
  );
  return perItem.flat();
}
