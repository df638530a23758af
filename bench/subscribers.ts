/**
 * `npm run bench:subscribers`: many concurrent `messages` subscribers on one gateway.
 *
 * A fresh redis-server, one gateway in its own process, N websocket subscribers (graphql-transport-ws
 * spoken by hand over `ws`, the lightest client there is, so the client side costs as little as
 * possible of this machine's CPU) tailing one topic, and a publisher in a process of its own
 * (bench/subscribers-publisher.ts) sending R messages per second over HTTP for S seconds. Reports deliveries per second, publish-to-receive latency percentiles (the
 * clock is the bench process's own: it publishes and receives), and the gateway's RSS and CPU.
 *
 *   --quick            100 subscribers for 5 s (CI smoke run)
 *   --subscribers=N    default 1000
 *   --rate=R           messages per second, default 100
 *   --seconds=S        default 30
 *   --no-share         turn off shared execution of identical subscriptions (to compare)
 *   --profile=DIR      write a V8 CPU profile of the gateway into DIR
 *   --floor            measure a bare `ws` fan-out server (bench/subscribers-floor.ts) instead of the
 *                      gateway: the cost of the websocket writes alone, the floor for any gateway
 *
 * Writes bench/results/subscribers.json (subscribers-quick.json with --quick).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startRedisServer } from '../server/redis-process.js';
import { buildGateway } from './built-gateway.js';
import { type Child, startChild } from './rpc.js';
import { cpuSeconds, rssBytes, startGateway, stopGateway } from './subscribers-process.js';
import type { ScheduleResult, SubscribersPublisherApi } from './subscribers-publisher.js';

interface Options {
  subscribers: number;
  rate: number;
  seconds: number;
  share: boolean;
  quick: boolean;
  profileDir: string | null;
  floor: boolean;
}

const TARGETS = { p99Ms: 100, rssBytes: 400 * 1024 * 1024 } as const;
const WARM_UP_TIMEOUT_MS = 30_000;
/** Subscribers connect in batches of this many, so the accept queue never overflows. */
const CONNECT_BATCH = 100;

const log = (line: string) => process.stderr.write(`${line}\n`);

function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const number = (name: string, fallback: number) => {
    const raw = argv.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1];
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
    return value;
  };
  return {
    quick,
    subscribers: number('subscribers', quick ? 100 : 1000),
    rate: number('rate', 100),
    seconds: number('seconds', quick ? 5 : 30),
    share: !argv.includes('--no-share'),
    profileDir: argv.find((arg) => arg.startsWith('--profile='))?.slice('--profile='.length) ?? null,
    floor: argv.includes('--floor'),
  };
}

// ---------------------------------------------------------------------------------------------
// Subscribers

const QUERY = 'subscription { messages(topic: "ticker") { id payload publishedAt droppedBefore } }';

interface Subscriber {
  socket: WebSocket;
  /** Measured messages received, by sequence number (each must arrive once). */
  seen: Uint8Array;
  warm: boolean;
  received: number;
  /** Messages the gateway dropped for this subscriber because it fell behind (Message.droppedBefore). */
  dropped: number;
}

/** Latency samples: from the publish call, and from the message's publishedAt (the live path alone). */
interface Samples {
  fromCall: Float64Array;
  fromStored: Float64Array;
  n: number;
  /** performance.now() of the last measured receipt. */
  lastAt: number;
}

function openSubscriber(url: string, messages: number, samples: Samples) {
  return new Promise<Subscriber>((resolve, reject) => {
    const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const subscriber: Subscriber = {
      socket,
      seen: new Uint8Array(messages),
      warm: false,
      received: 0,
      dropped: 0,
    };
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.on('error', reject);
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as {
        type: string;
        payload?: {
          data?: {
            messages?: {
              publishedAt?: string;
              droppedBefore?: number;
              payload?: { seq: number; sentAt: number };
            };
          };
        };
      };
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: QUERY } }));
        resolve(subscriber);
        return;
      }
      if (message.type === 'ping') return socket.send(JSON.stringify({ type: 'pong' }));
      if (message.type !== 'next') return;
      const received = message.payload?.data?.messages;
      const body = received?.payload;
      if (!body) return;
      if (body.seq < 0) {
        subscriber.warm = true;
        return;
      }
      const at = Date.now();
      subscriber.dropped += received.droppedBefore ?? 0;
      samples.lastAt = performance.now();
      if (body.seq < messages && subscriber.seen[body.seq] === 0) {
        subscriber.seen[body.seq] = 1;
        subscriber.received++;
        if (samples.n < samples.fromCall.length) {
          samples.fromCall[samples.n] = at - body.sentAt;
          samples.fromStored[samples.n] = at - Date.parse(received.publishedAt ?? '');
          samples.n++;
        }
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Publishing

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return (sorted[low] ?? 0) + ((sorted[high] ?? 0) - (sorted[low] ?? 0)) * (rank - low);
}

// ---------------------------------------------------------------------------------------------

/** The measurement's raw figures, before they are shaped into the result. */
interface Measured {
  sent: ScheduleResult;
  rssSamples: number[];
  loadBefore: number;
  cpu: number;
  clientCpu: NodeJS.CpuUsage;
  deliveringMs: number;
  elapsedMs: number;
}

/** Opens the subscribers in batches of {@link CONNECT_BATCH}; each socket goes into `sockets` to be closed. */
async function connectAll(
  url: string,
  count: number,
  messages: number,
  samples: Samples,
  sockets: WebSocket[],
): Promise<Subscriber[]> {
  const subscribers: Subscriber[] = [];
  for (let offset = 0; offset < count; offset += CONNECT_BATCH) {
    const batch = Math.min(CONNECT_BATCH, count - offset);
    const opened = await Promise.all(
      Array.from({ length: batch }, () => openSubscriber(url, messages, samples)),
    );
    subscribers.push(...opened);
    sockets.push(...opened.map((subscriber) => subscriber.socket));
  }
  return subscribers;
}

/** Publishes warm-up messages until every subscriber has received one, then lets them drain. */
async function warmUp(
  subscribers: readonly Subscriber[],
  publisher: Child<SubscribersPublisherApi>,
  url: string,
): Promise<void> {
  const warmUntil = Date.now() + WARM_UP_TIMEOUT_MS;
  while (subscribers.some((subscriber) => !subscriber.warm)) {
    if (Date.now() > warmUntil) throw new Error('not every subscriber received a warm-up message in time');
    await publisher.call('publishWarmUp', url);
    await sleep(100);
  }
  // Let the warm-up traffic drain before measuring.
  await sleep(500);
  for (const subscriber of subscribers) subscriber.dropped = 0;
}

/** Publishes the schedule and waits for every subscriber to have each message (or its loss reported). */
async function measure(
  run: { pid: number; url: string; messages: number; rate: number },
  subscribers: readonly Subscriber[],
  publisher: Child<SubscribersPublisherApi>,
  samples: Samples,
): Promise<Measured> {
  const { pid, url, messages } = run;
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const rssSamples: number[] = [];
  const sampler = setInterval(() => rssSamples.push(rssBytes(pid)), 250);
  const cpuBefore = cpuSeconds(pid);
  const clientCpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  const sent = await publisher.call('publishSchedule', { url, rate: run.rate, count: messages });
  // Everything published; give the last messages up to 30 s to arrive (or be reported dropped).
  const drainUntil = Date.now() + 30_000;
  const settled = (subscriber: Subscriber) => subscriber.received + subscriber.dropped >= messages;
  while (!subscribers.every(settled) && Date.now() < drainUntil) await sleep(20);
  const deliveringMs = Math.max(1, samples.lastAt - startedAt);
  const elapsedMs = performance.now() - startedAt;
  const cpu = cpuSeconds(pid) - cpuBefore;
  const clientCpu = process.cpuUsage(clientCpuBefore);
  clearInterval(sampler);
  return { sent, rssSamples, loadBefore, cpu, clientCpu, deliveringMs, elapsedMs };
}

function latencies(sorted: Float64Array) {
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

function buildResult(
  options: Options,
  messages: number,
  subscribers: readonly Subscriber[],
  samples: Samples,
  measured: Measured,
) {
  const { sent, rssSamples, cpu, clientCpu, deliveringMs, elapsedMs } = measured;
  const delivered = subscribers.reduce((sum, subscriber) => sum + subscriber.received, 0);
  const complete = subscribers.filter((subscriber) => subscriber.received === messages).length;
  const sorted = samples.fromCall.slice(0, samples.n).sort();
  const sortedStored = samples.fromStored.slice(0, samples.n).sort();
  return {
    benchmark: 'subscribers',
    at: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      // Other work on the machine inflates every figure; the 1-minute load average says how much there was.
      loadAverage: { before: measured.loadBefore, after: loadavg()[0] ?? Number.NaN },
    },
    options,
    published: messages - sent.failures,
    publishFailures: sent.failures,
    /** The distinct reasons, with how often each came: a failed publish is the bench's fault or the gateway's. */
    publishFailureReasons: sent.reasons,
    delivered,
    expectedDeliveries: messages * options.subscribers,
    subscribersWithEveryMessage: complete,
    droppedForSlowness: subscribers.reduce((sum, subscriber) => sum + subscriber.dropped, 0),
    // From the first publish to the last receipt.
    deliveriesPerSecond: (delivered * 1000) / deliveringMs,
    /** From the publish call (HTTP request sent) to a subscriber's receipt. */
    latencyMs: latencies(sorted),
    /** From the message's publishedAt (stamped by the gateway before storing it) to receipt: the live path. */
    livePathLatencyMs: latencies(sortedStored),
    gateway: {
      rssMaxBytes: Math.max(...rssSamples),
      rssEndBytes: rssSamples[rssSamples.length - 1] ?? Number.NaN,
      cpuPercentOfOneCore: (cpu * 100_000) / elapsedMs,
      // The figure least bent by other work on the machine: CPU time per delivery.
      cpuMicrosecondsPerDelivery: delivered > 0 ? (cpu * 1e6) / delivered : Number.NaN,
    },
    benchProcessCpuPercentOfOneCore: ((clientCpu.user + clientCpu.system) / 1000 / elapsedMs) * 100,
    targets: {
      everySubscriberEveryMessage: complete === options.subscribers,
      p99UnderMs: TARGETS.p99Ms,
      p99Met: percentile(sorted, 99) < TARGETS.p99Ms,
      rssUnderBytes: TARGETS.rssBytes,
      rssMet: Math.max(...rssSamples) < TARGETS.rssBytes,
    },
  };
}

type Result = ReturnType<typeof buildResult>;

/** Writes the result as JSON under bench/results/, and fails the run when a target is missed. */
async function report(result: Result, options: Options): Promise<void> {
  printTable(result);
  const name = `subscribers${options.floor ? '-floor' : ''}${options.quick ? '-quick' : ''}`;
  const out = new URL(`./results/${name}.json`, import.meta.url);
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${fileURLToPath(out)}`);
  if (!result.targets.everySubscriberEveryMessage || !result.targets.p99Met || !result.targets.rssMet) {
    process.exitCode = 1;
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const messages = Math.round(options.rate * options.seconds);
  log(
    `subscribers: ${options.subscribers}, ${options.rate} msg/s for ${options.seconds} s ` +
      `(${messages} messages), ${options.floor ? 'bare ws floor' : `shared execution ${options.share ? 'on' : 'off'}`}`,
  );
  if (!options.floor) buildGateway();
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-bench-subscribers-'));
  const redis = await startRedisServer({ dir, appendOnly: true });
  const sockets: WebSocket[] = [];
  let gateway: ChildProcess | null = null;
  let publisher: Child<SubscribersPublisherApi> | null = null;
  try {
    publisher = await startChild<SubscribersPublisherApi>('./subscribers-publisher.ts');
    const started = await startGateway(redis.url, options);
    gateway = started.child;
    const { url } = started;
    const samples: Samples = {
      fromCall: new Float64Array(messages * options.subscribers),
      fromStored: new Float64Array(messages * options.subscribers),
      n: 0,
      lastAt: 0,
    };
    const subscribers = await connectAll(url, options.subscribers, messages, samples, sockets);
    log(`  ${subscribers.length} subscribers connected; warming up`);
    await warmUp(subscribers, publisher, url);
    log('  measuring');
    const run = { pid: started.child.pid ?? 0, url, messages, rate: options.rate };
    const measured = await measure(run, subscribers, publisher, samples);
    await report(buildResult(options, messages, subscribers, samples, measured), options);
  } finally {
    for (const socket of sockets) socket.terminate();
    if (gateway) await stopGateway(gateway);
    await publisher?.stop();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function printTable(result: Result): void {
  const MiB = 1024 * 1024;
  const rows: [string, string, string][] = [
    ['subscribers', String(result.options.subscribers), ''],
    ['messages/s published', String(result.options.rate), ''],
    ['publishes failed', String(result.publishFailures), 'reasons in the JSON'],
    ['deliveries', `${result.delivered} / ${result.expectedDeliveries}`, 'every subscriber every message'],
    ['dropped (subscriber behind)', String(result.droppedForSlowness), 'Message.droppedBefore'],
    ['subscribers with every message', String(result.subscribersWithEveryMessage), ''],
    ['deliveries/s', result.deliveriesPerSecond.toFixed(0), ''],
    ['latency P50 (ms)', result.latencyMs.p50.toFixed(1), ''],
    ['latency P95 (ms)', result.latencyMs.p95.toFixed(1), ''],
    ['latency P99 (ms)', result.latencyMs.p99.toFixed(1), `target < ${TARGETS.p99Ms}`],
    ['latency max (ms)', result.latencyMs.max.toFixed(1), ''],
    [
      'live path P50 / P99 (ms)',
      `${result.livePathLatencyMs.p50.toFixed(1)} / ${result.livePathLatencyMs.p99.toFixed(1)}`,
      'publishedAt to receipt',
    ],
    [
      'gateway RSS max (MiB)',
      (result.gateway.rssMaxBytes / MiB).toFixed(0),
      `target < ${TARGETS.rssBytes / MiB}`,
    ],
    ['gateway CPU (% of a core)', result.gateway.cpuPercentOfOneCore.toFixed(0), ''],
    ['gateway CPU per delivery (µs)', result.gateway.cpuMicrosecondsPerDelivery.toFixed(1), ''],
    [
      'bench process CPU (% of a core)',
      result.benchProcessCpuPercentOfOneCore.toFixed(0),
      'the subscribers (the publisher has a process of its own)',
    ],
    [
      'load average before / after',
      `${result.machine.loadAverage.before.toFixed(1)} / ${result.machine.loadAverage.after.toFixed(1)}`,
      'other work on the machine',
    ],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const valueWidth = Math.max(...rows.map(([, value]) => value.length));
  for (const [name, value, note] of rows) {
    process.stdout.write(`${name.padEnd(width)}  ${value.padStart(valueWidth)}  ${note}\n`);
  }
}

await main();
