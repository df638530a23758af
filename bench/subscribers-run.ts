/**
 * One phase of `npm run bench:subscribers`: the gateway (or the bare `ws` floor) in a process of its
 * own, the subscribers spread over K client processes (bench/subscribers-clients.ts), connected,
 * warmed up, then one fixed publishing schedule measured. Every wait is bounded in time.
 */
import type { ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { nowUs } from './payload.js';
import { type Child, startChild } from './rpc.js';
import type { ClientResults, SubscriberClientsApi } from './subscribers-clients.js';
import {
  cpuSeconds,
  type ProcessOptions,
  rssBytes,
  startGateway,
  stopGateway,
} from './subscribers-process.js';
import type { ScheduleResult, SubscribersPublisherApi } from './subscribers-publisher.js';

/** Sockets each client process opens at once; with K processes K times this wait in the accept queue. */
const CONNECT_BATCH = 100;
/** Every subscriber must have a warm-up message within this. */
const WARM_UP_TIMEOUT_MS = 120_000;
/** After the last publish, how long the last messages may take to arrive (or be reported dropped). */
const DRAIN_TIMEOUT_MS = 30_000;
/** How long the measured process is left alone before its idle RSS is read. */
const SETTLE_MS = 1_000;
const RSS_SAMPLE_MS = 250;

const log = (line: string) => process.stderr.write(`${line}\n`);

export interface PhaseArgs {
  redisUrl: string;
  process: ProcessOptions;
  subscribers: number;
  clientProcesses: number;
  rate: number;
  messages: number;
}

/** What one phase measured, before it is shaped into the result. */
export interface PhaseMeasured {
  sent: ScheduleResult;
  clients: ClientResults[];
  /** The measured process's RSS: started and idle, all subscribers connected and subscribed, and sampled while publishing. */
  rss: { idle: number; subscribed: number; samples: number[] };
  connectMs: number;
  /** CPU seconds of the measured process over the measurement. */
  cpu: number;
  /** From the first publish to the last receipt (monotonic). */
  deliveringMs: number;
  elapsedMs: number;
  loadAverage: { before: number; after: number };
}

/** Subscribers of client process `index` of `processes`: as even a share as there is. */
const shareOf = (total: number, processes: number, index: number) =>
  Math.floor(total / processes) + (index < total % processes ? 1 : 0);

const sumOf = async (clients: readonly Child<SubscriberClientsApi>[], method: 'warm' | 'settled') =>
  (await Promise.all(clients.map((client) => client.call(method)))).reduce((sum, n) => sum + n, 0);

async function connectAll(
  clients: readonly Child<SubscriberClientsApi>[],
  args: PhaseArgs,
  url: string,
): Promise<void> {
  const counts = await Promise.all(
    clients.map((client, index) =>
      client.call('connect', {
        url,
        count: shareOf(args.subscribers, clients.length, index),
        messages: args.messages,
        batch: CONNECT_BATCH,
      }),
    ),
  );
  const connected = counts.reduce((sum, n) => sum + n, 0);
  if (connected !== args.subscribers)
    throw new Error(`${connected} of ${args.subscribers} subscribers connected`);
}

/** Publishes warm-up messages until every subscriber has received one, then lets the traffic drain. */
async function warmUp(
  clients: readonly Child<SubscriberClientsApi>[],
  publisher: Child<SubscribersPublisherApi>,
  url: string,
  subscribers: number,
): Promise<void> {
  const until = Date.now() + WARM_UP_TIMEOUT_MS;
  for (;;) {
    const warm = await sumOf(clients, 'warm');
    if (warm === subscribers) break;
    if (Date.now() > until)
      throw new Error(`${warm} of ${subscribers} subscribers had a warm-up message in time`);
    await publisher.call('publishWarmUp', url);
    await sleep(250);
  }
  await sleep(SETTLE_MS);
}

async function measure(
  clients: readonly Child<SubscriberClientsApi>[],
  publisher: Child<SubscribersPublisherApi>,
  run: { pid: number; url: string; args: PhaseArgs },
): Promise<Omit<PhaseMeasured, 'rss' | 'connectMs'> & { rssSamples: number[] }> {
  const { pid, url, args } = run;
  const loadBefore = loadavg()[0] ?? Number.NaN;
  await Promise.all(clients.map((client) => client.call('startMeasuring')));
  const rssSamples: number[] = [];
  const sampler = setInterval(() => rssSamples.push(rssBytes(pid)), RSS_SAMPLE_MS);
  const cpuBefore = cpuSeconds(pid);
  const startedAt = performance.now();
  const startedAtUs = nowUs();
  try {
    const sent = await publisher.call('publishSchedule', { url, rate: args.rate, count: args.messages });
    const drainUntil = Date.now() + DRAIN_TIMEOUT_MS;
    while ((await sumOf(clients, 'settled')) < args.subscribers && Date.now() < drainUntil) await sleep(100);
    const elapsedMs = performance.now() - startedAt;
    const cpu = cpuSeconds(pid) - cpuBefore;
    const results = await Promise.all(clients.map((client) => client.call('results')));
    const lastAtUs = Math.max(...results.map((result) => result.lastAtUs));
    return {
      sent,
      clients: results,
      rssSamples,
      cpu,
      deliveringMs: Math.max(1, (lastAtUs - startedAtUs) / 1000),
      elapsedMs,
      loadAverage: { before: loadBefore, after: loadavg()[0] ?? Number.NaN },
    };
  } finally {
    clearInterval(sampler);
  }
}

async function startClients(count: number): Promise<Child<SubscriberClientsApi>[]> {
  const started = await Promise.allSettled(
    Array.from({ length: count }, () => startChild<SubscriberClientsApi>('./subscribers-clients.ts')),
  );
  const clients = started.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  const failed = started.find((outcome) => outcome.status === 'rejected');
  if (failed?.status === 'rejected') {
    await Promise.all(clients.map((client) => client.stop()));
    throw failed.reason;
  }
  return clients;
}

/** Runs one phase from start to stop; every process it started is stopped when it returns or throws. */
export async function runPhase(
  args: PhaseArgs,
  publisher: Child<SubscribersPublisherApi>,
): Promise<PhaseMeasured> {
  const what = args.process.floor ? 'bare ws floor' : 'gateway';
  let server: ChildProcess | null = null;
  let clients: Child<SubscriberClientsApi>[] = [];
  try {
    const started = await startGateway(args.redisUrl, args.process);
    server = started.child;
    const pid = server.pid ?? 0;
    clients = await startClients(args.clientProcesses);
    await sleep(SETTLE_MS);
    const idle = rssBytes(pid);
    log(`  ${what}: RSS ${(idle / 2 ** 20).toFixed(0)} MiB idle; connecting ${args.subscribers} subscribers`);
    const connectStarted = performance.now();
    await connectAll(clients, args, started.url);
    const connectMs = performance.now() - connectStarted;
    log(`  connected in ${(connectMs / 1000).toFixed(1)} s; warming up`);
    await warmUp(clients, publisher, started.url, args.subscribers);
    const subscribed = rssBytes(pid);
    log(`  RSS ${(subscribed / 2 ** 20).toFixed(0)} MiB with every subscriber; measuring`);
    const { rssSamples, ...measured } = await measure(clients, publisher, { pid, url: started.url, args });
    return { ...measured, rss: { idle, subscribed, samples: rssSamples }, connectMs };
  } finally {
    await Promise.all(clients.map((client) => client.stop()));
    if (server) await stopGateway(server);
  }
}
