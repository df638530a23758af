/** Set-up and tear-down shared by the scenarios, so each scenario file reads as its measurement. */

import type { CreateQueueInput } from '../../queues/registry/index.js';
import type { TopologyArgs } from '../gateway-process.js';
import {
  type Bench,
  type FloorHandle,
  type GatewayHandle,
  type SidesProcesses,
  startFloor,
  startSides,
  waitForDeliveries,
} from '../harness.js';
import type { RawPolicy } from '../load/bull-load.js';
import type { LoopResult } from '../load/loops.js';
import { cpuMeter } from '../proc-stats.js';
import { assertNoErrors, type Figure } from '../scenario.js';

/** 256 requests (or adds) in flight, as the issue asks for the single-message paths. */
export const IN_FLIGHT = 256;

/**
 * The floor's row in scenarios 1 and 2: in the Switchyard column, what a bare HTTP server doing one
 * Queue.add (or addBulk) per request reaches with the same load (bench/floor-process.ts); in the raw
 * column, raw BullMQ's figure again, so the ratio is the highest any HTTP front could score here.
 */
export const FLOOR_FIGURE: Figure = {
  key: 'floorRate',
  label: 'floor: bare node:http + Queue.add, messages/s',
  unit: 'msg/s',
  digits: 0,
};

/** How much one closed-loop run sends: at most `count` messages, for at most `timeoutMs`. */
export interface ClosedRun {
  count: number;
  timeoutMs: number;
}

/**
 * The Switchyard side of a closed-loop run: `publish` into `topic`, {@link IN_FLIGHT} requests in
 * flight, spread over every gateway instance in turn, or to another server that takes the same
 * requests (the floor).
 */
export const publishClosed = (
  sides: SidesProcesses,
  topic: string,
  run: ClosedRun,
  url?: string,
): Promise<LoopResult> =>
  sides.switchyardLoad.call('publishClosed', {
    url: url ?? sides.gateway.url,
    urls: url ? [url] : sides.gateways.map((gateway) => gateway.url),
    topic,
    concurrency: IN_FLIGHT,
    ...run,
  });

/** The raw side: `Queue.add` of each message to every one of `queues`, {@link IN_FLIGHT} in flight. */
export const addClosed = (
  bench: Bench,
  sides: SidesProcesses,
  queues: string[],
  run: ClosedRun & { policy?: RawPolicy },
): Promise<LoopResult> =>
  sides.rawLoad.call('addClosed', {
    redisUrl: bench.redisUrl,
    prefix: sides.rawPrefix,
    queues,
    concurrency: IN_FLIGHT,
    ...run,
  });

/** The gateway instances a topology is for: one, or every instance of a scaled-out run (the first creates it). */
export type Gateways = GatewayHandle | readonly GatewayHandle[];

/**
 * Creates a Switchyard topology for one run and deletes it (messages and all) afterwards. With
 * several instances the first creates it and the run waits until every other one has the webhook
 * workers it learnt of over the registry channel, so that all of them deliver from the start; at the
 * end it waits for the queues to go idle and for every peer's workers to be gone again.
 */
export async function withTopology<T>(
  gateways: Gateways,
  topology: TopologyArgs,
  measure: () => Promise<T>,
): Promise<T> {
  const [gateway, ...peers]: readonly GatewayHandle[] = 'child' in gateways ? [gateways] : gateways;
  if (!gateway) throw new Error('withTopology needs a gateway');
  const webhooks = topology.queues.filter((queue) => queue.target === 'WEBHOOK').length;
  const before = await Promise.all(peers.map((peer) => peer.child.call('webhookWorkers')));
  await gateway.child.call('createTopology', topology);
  await Promise.all(
    peers.map((peer, n) => peer.child.call('awaitWebhookWorkers', (before[n] ?? 0) + webhooks)),
  );
  try {
    return await measure();
  } finally {
    if (peers.length > 0) await gateway.child.call('awaitIdle', topology.topic);
    await gateway.child.call('deleteTopology', topology.topic);
    // Each peer back to the workers it had, so the next run's count starts from a settled one.
    await Promise.all(peers.map((peer, n) => peer.child.call('awaitWebhookWorkers', before[n] ?? 0)));
  }
}

/** What a scenario may set on its CONSUMER queue; everything else keeps the default. */
export type ConsumerQueueSettings = Pick<CreateQueueInput, 'maxPriority'>;

/**
 * The topology of the scenarios that only enqueue or pull: one FANOUT topic with one CONSUMER queue,
 * `q` (with the default settings unless `queue` says otherwise).
 */
export function withConsumerQueue<T>(
  gateway: Gateways,
  topic: string,
  measure: () => Promise<T>,
  queue: ConsumerQueueSettings = {},
): Promise<T> {
  return withTopology(
    gateway,
    { topic, kind: 'FANOUT', queues: [{ name: 'q', target: 'CONSUMER', ...queue }] },
    measure,
  );
}

/**
 * The topology of the scenarios that deliver to the bench receiver: one FANOUT topic with one WEBHOOK
 * queue, `hook`, with `concurrency` deliveries at a time (and a retry policy when given).
 */
export function withWebhookQueue<T>(
  bench: Bench,
  gateway: Gateways,
  topic: string,
  queue: Pick<CreateQueueInput, 'concurrency' | 'retry'>,
  measure: () => Promise<T>,
): Promise<T> {
  return withTopology(
    gateway,
    {
      topic,
      kind: 'FANOUT',
      queues: [{ name: 'hook', target: 'WEBHOOK', url: bench.receiverUrl, ...queue }],
    },
    measure,
  );
}

/**
 * Scenarios 1 and 2 with their floor: the processes of both sides plus the bare HTTP + Queue.add
 * server, whose run is measured on the Switchyard side right after the gateway's.
 */
export async function startSidesWithFloor(
  bench: Bench,
  scenarioId: number,
): Promise<{ sides: SidesProcesses; floor: FloorHandle; close(): Promise<void> }> {
  const sides = await startSides(bench, scenarioId, false);
  try {
    const floor = await startFloor(bench, `floor${scenarioId}`);
    return {
      sides,
      floor,
      close: () => Promise.all([floor.child.stop(), sides.close()]).then(() => undefined),
    };
  } catch (error) {
    await sides.close();
    throw error;
  }
}

/** Runs a measurement against the floor server, then removes its queue with its jobs. */
export async function withFloorQueue<T>(
  floor: FloorHandle,
  queue: string,
  measure: () => Promise<T>,
): Promise<T> {
  try {
    return await measure();
  } finally {
    await floor.child.call('obliterate', queue);
  }
}

/** Runs a raw measurement, then obliterates its queues (and stops raw workers if it started any). */
export async function withRawQueues<T>(
  bench: Bench,
  sides: SidesProcesses,
  queues: string[],
  measure: () => Promise<T>,
): Promise<T> {
  try {
    return await measure();
  } finally {
    await sides.rawWorkers?.call('stopWorkers');
    for (const queue of queues) {
      await sides.rawLoad.call('obliterate', { redisUrl: bench.redisUrl, prefix: sides.rawPrefix, queue });
    }
  }
}

/** Starts raw BullMQ webhook workers on `queues`, POSTing to the bench receiver. */
export async function startRawWorkers(
  bench: Bench,
  sides: SidesProcesses,
  queues: string[],
  concurrency: number,
  reply = false,
): Promise<void> {
  if (!sides.rawWorkers) throw new Error('this scenario was opened without raw workers');
  await sides.rawWorkers.call('startWorkers', {
    redisUrl: bench.redisUrl,
    prefix: sides.rawPrefix,
    queues,
    url: bench.receiverUrl,
    concurrency,
    reply,
  });
}

/** The pids of every gateway instance of a run, whose CPU is summed. */
export const gatewayPids = (sides: SidesProcesses) => sides.gateways.map((gateway) => gateway.child.pid);

/** CPU seconds per 1,000 messages. */
export const cpuPerThousand = (seconds: number | undefined, messages: number) =>
  ((seconds ?? Number.NaN) * 1000) / messages;

/**
 * The ingest scenarios' CPU rows. On two cores the producer side and Redis share the machine, so
 * the throughput ratio moves with whatever else runs; CPU per message shows where the work is, and
 * moves much less from run to run.
 */
export const INGEST_CPU_FIGURES: Figure[] = [
  { key: 'cpuService', label: 'CPU s/1k: gateway (raw: producer process)', unit: 's', digits: 4 },
  { key: 'cpuLoad', label: 'CPU s/1k: load generator (raw: none)', unit: 's', digits: 4 },
  { key: 'cpuRedis', label: 'CPU s/1k: Redis', unit: 's', digits: 4 },
];

/** What an ingest load took in, and how long it took. */
export interface Ingested {
  messages: number;
  elapsedMs: number;
}

/**
 * Runs an ingest load and answers what it took in with {@link INGEST_CPU_FIGURES}: the CPU of
 * `service` (the gateway, every instance summed, or raw BullMQ's producer), of the load generator when it is a process of
 * its own (Switchyard's side only), and of Redis, per 1,000 messages.
 */
export async function measureIngestCpu(
  bench: Bench,
  pids: { service: number | readonly number[]; load?: number },
  load: () => Promise<Ingested>,
): Promise<Ingested & { cpuService: number; cpuLoad?: number; cpuRedis: number }> {
  const { load: loadPid, service } = pids;
  const cpu = cpuMeter({
    service,
    redis: bench.redisPid,
    ...(loadPid === undefined ? {} : { load: loadPid }),
  });
  const ingested = await load();
  const used = cpu();
  const perThousand = (seconds: number | undefined) => cpuPerThousand(seconds, ingested.messages);
  return {
    ...ingested,
    cpuService: perThousand(used.service),
    ...(used.load === undefined ? {} : { cpuLoad: perThousand(used.load) }),
    cpuRedis: perThousand(used.redis),
  };
}

export interface Delivered {
  /** Messages the load generator got in. */
  sent: number;
  /** How long sending took. */
  sendMs: number;
  /** From the first send until the receiver had every delivery. */
  deliverMs: number;
  /** Deliveries the receiver refused on purpose (first attempts, in scenario 7). */
  refused: number;
}

/**
 * Sends with `load` (for the throughput window, or until its count), then waits until the receiver
 * has `perMessage` deliveries of every message sent; both times count from the first send.
 */
export async function sendAndDeliver(
  bench: Bench,
  what: string,
  perMessage: number,
  load: () => Promise<LoopResult>,
): Promise<Delivered> {
  const started = performance.now();
  const result = await load();
  assertNoErrors(what, result);
  const { elapsedMs, stats } = await waitForDeliveries(
    bench,
    result.done * perMessage,
    started,
    bench.sizes.runTimeoutMs,
  );
  return { sent: result.done, sendMs: result.elapsedMs, deliverMs: elapsedMs, refused: stats.refused };
}
