/** The shared pieces of a bench run: Redis, the receiver, and the processes each scenario starts. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '../queues/redis/index.js';
import type { FloorApi } from './floor-process.js';
import type { GatewayApi } from './gateway-process.js';
import type { LoadgenApi } from './loadgen-process.js';
import type { Sizes } from './options.js';
import type { RawWorkerApi } from './raw-worker-process.js';
import type { ReceiverApi, ReceiverMode, ReceiverStats } from './receiver-process.js';
import { gatewayRedisEnv, rawPrefixFor } from './redis-target.js';
import { type Child, startChild } from './rpc.js';

export interface Bench {
  sizes: Sizes;
  redisUrl: string;
  /** The redis-server process, or every master of a cluster (their CPU is summed). */
  redisPid: number | number[];
  /** A plain client for INFO and FLUSHALL. */
  admin: RedisClient;
  receiver: Child<ReceiverApi>;
  receiverUrl: string;
  /** Node flags for gateway processes (--cpu-prof when profiling). */
  gatewayFlags: string[];
  /** More environment for gateway processes (the allocation profile's folder when profiling allocations). */
  gatewayEnv?: Record<string, string>;
  /**
   * Gateway instances per scenario, all on the bench Redis with one key prefix, as a deployment
   * scales out (docs/SCALING.md, step 2); the load generator spreads its requests over them.
   */
  instances: number;
}

export interface GatewayHandle {
  child: Child<GatewayApi>;
  /** The GraphQL endpoint. */
  url: string;
}

/** A fresh gateway on the bench Redis with keys of its own; configured as a deployment would be. */
export async function startGateway(
  bench: Bench,
  keyPrefix: string,
  env: Record<string, string> = {},
): Promise<GatewayHandle> {
  const child = await startChild<GatewayApi>('./gateway-process.ts', {
    nodeFlags: bench.gatewayFlags,
    env: {
      ...gatewayRedisEnv(bench.redisUrl),
      PORT: '0',
      HOST: '127.0.0.1',
      SWITCHYARD_PREFIX: keyPrefix,
      SWITCHYARD_LOG_LEVEL: 'warn',
      SWITCHYARD_GRAPHIQL: 'false',
      // The receiver is on loopback by design: the bench never leaves the machine.
      SWITCHYARD_ALLOW_PRIVATE_WEBHOOKS: 'true',
      NODE_ENV: 'production',
      ...bench.gatewayEnv,
      ...env,
    },
  });
  return { child, url: await child.call('url') };
}

export interface FloorHandle {
  child: Child<FloorApi>;
  /** Where the load generator sends its publish requests. */
  url: string;
}

/** The bare HTTP + Queue.add server of scenarios 1 and 2 (bench/floor-process.ts), with its own prefix. */
export async function startFloor(bench: Bench, prefix: string): Promise<FloorHandle> {
  const child = await startChild<FloorApi>('./floor-process.ts', {
    env: { REDIS_URL: bench.redisUrl, FLOOR_PREFIX: rawPrefixFor(bench.redisUrl, prefix) },
  });
  return { child, url: await child.call('url') };
}

export const startLoadgen = () => startChild<LoadgenApi>('./loadgen-process.ts');
export const startRawWorkers = () => startChild<RawWorkerApi>('./raw-worker-process.ts');
export const startReceiver = () => startChild<ReceiverApi>('./receiver-process.ts');

/** Redis's `used_memory`, in bytes. */
export async function usedMemory(admin: RedisClient): Promise<number> {
  const info = await admin.info('memory');
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match?.[1]) throw new Error('INFO memory has no used_memory');
  return Number(match[1]);
}

export async function redisVersion(admin: RedisClient): Promise<string> {
  return /^redis_version:(\S+)/m.exec(await admin.info('server'))?.[1] ?? 'unknown';
}

export async function resetReceiver(bench: Bench, mode: Partial<ReceiverMode> = {}): Promise<void> {
  await bench.receiver.call('reset', { failFirst: false, latency: false, reply: false, ...mode });
}

/** How often the harness asks the receiver how far it got: small next to any measured run. */
const POLL_MS = 10;

/**
 * Waits until the receiver has delivered `count` messages; answers the ms it took since `startedAt`
 * (performance.now()). Bounded by `timeoutMs`, after which it throws.
 */
export async function waitForDeliveries(
  bench: Bench,
  count: number,
  startedAt: number,
  timeoutMs: number,
): Promise<{ elapsedMs: number; stats: ReceiverStats }> {
  const deadline = startedAt + timeoutMs;
  for (;;) {
    const stats = await bench.receiver.call('stats', false);
    if (stats.delivered >= count) return { elapsedMs: performance.now() - startedAt, stats };
    if (performance.now() > deadline) {
      throw new Error(`receiver got ${stats.delivered} of ${count} messages within ${timeoutMs} ms`);
    }
    await sleep(POLL_MS);
  }
}

/** The processes of one scenario: a gateway and a load generator for Switchyard, and raw BullMQ's own. */
export interface SidesProcesses {
  /** The first gateway instance: the one topologies are created on. */
  gateway: GatewayHandle;
  /** Every gateway instance ({@link Bench.instances}), the first included. */
  gateways: GatewayHandle[];
  switchyardLoad: Child<LoadgenApi>;
  rawLoad: Child<LoadgenApi>;
  /** Only for scenarios that deliver webhooks. */
  rawWorkers: Child<RawWorkerApi> | null;
  /** BullMQ prefix of raw queues for this scenario. */
  rawPrefix: string;
  close(): Promise<void>;
}

export async function startSides(
  bench: Bench,
  scenarioId: number,
  withRawWorkers: boolean,
  gatewayEnv: Record<string, string> = {},
): Promise<SidesProcesses> {
  const gateways = Array.from({ length: bench.instances }, () =>
    startGateway(bench, `bench${scenarioId}`, gatewayEnv),
  );
  const started = await Promise.allSettled([
    startLoadgen(),
    startLoadgen(),
    withRawWorkers ? startRawWorkers() : Promise.resolve(null),
    ...gateways,
  ]);
  const stopAll = () =>
    Promise.allSettled(
      started.map((outcome) => {
        if (outcome.status !== 'fulfilled' || outcome.value === null) return undefined;
        return 'child' in outcome.value ? outcome.value.child.stop() : outcome.value.stop();
      }),
    ).then(() => undefined);
  const [switchyardLoad, rawLoad, rawWorkers, ...gatewaysStarted] = started;
  const failure = started.find((outcome) => outcome.status === 'rejected');
  if (
    failure ||
    switchyardLoad?.status !== 'fulfilled' ||
    rawLoad?.status !== 'fulfilled' ||
    rawWorkers?.status !== 'fulfilled'
  ) {
    await stopAll();
    throw failure?.status === 'rejected' ? failure.reason : new Error('a bench process did not start');
  }
  const handles = gatewaysStarted.flatMap((outcome) =>
    outcome.status === 'fulfilled' && outcome.value && 'url' in outcome.value ? [outcome.value] : [],
  );
  const [gateway] = handles;
  if (!gateway) {
    await stopAll();
    throw new Error('no gateway started');
  }
  return {
    gateway,
    gateways: handles,
    switchyardLoad: switchyardLoad.value,
    rawLoad: rawLoad.value,
    rawWorkers: rawWorkers.value,
    rawPrefix: rawPrefixFor(bench.redisUrl, `raw${scenarioId}`),
    close: stopAll,
  };
}
