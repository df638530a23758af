/**
 * `npm run bench:subscribers`: many concurrent `messages` subscribers on one gateway.
 *
 * A fresh redis-server, one gateway in its own process, N websocket subscribers tailing one topic,
 * spread over K client processes (bench/subscribers-clients.ts: graphql-transport-ws spoken by hand
 * over `ws`, the lightest client there is), and a publisher in a process of its own
 * (bench/subscribers-publisher.ts) sending R messages per second over HTTP for S seconds. Reports
 * deliveries expected and received, publish-to-receive latency percentiles (the payload carries its
 * send time on the machine-wide monotonic clock), and the gateway's RSS (idle, with every subscriber,
 * peak, per connection) and CPU.
 *
 *   --quick              100 subscribers, 100 msg/s for 5 s (a smoke run)
 *   --scale              issue 24's case: 10,000 subscribers, 1 msg/s for 60 s, 4 client processes,
 *                        the gateway and then the bare `ws` floor in the same run
 *   --subscribers=N      default 1000 (10,000 with --scale)
 *   --rate=R             messages per second, default 100 (1 with --scale)
 *   --seconds=S          default 30 (60 with --scale)
 *   --client-processes=K processes holding the subscribers, N/K each; default N / 2,500 rounded up
 *   --with-floor         after the gateway, the same run against the floor (on with --scale)
 *   --floor              the floor alone: a bare `ws` fan-out server (bench/subscribers-floor.ts), the
 *                        cost of the websocket writes alone, which no gateway can go below
 *   --no-share           turn off shared execution of identical subscriptions (to compare)
 *   --profile=DIR        write a V8 CPU profile of the gateway into DIR
 *
 * Each socket costs a file descriptor in the gateway AND in its client process: the bench raises its
 * own open-files limit (bench/fd-limit.ts) before it starts anything, and says so when the hard limit
 * is too low. Loopback only. Writes bench/results/subscribers[-scale][-N-at-R][-floor][-quick].json
 * (-N-at-R when --subscribers or --rate was given).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer } from '../server/redis-process.js';
import { buildGateway } from './built-gateway.js';
import { FD_MARGIN, raiseOpenFiles } from './fd-limit.js';
import { source } from './report.js';
import { type Child, startChild } from './rpc.js';
import type { SubscribersPublisherApi } from './subscribers-publisher.js';
import {
  machineInfo,
  phaseResult,
  printTable,
  type SubscribersResult,
  targetsFor,
  verdicts,
  writeResult,
} from './subscribers-report.js';
import { type PhaseArgs, runPhase } from './subscribers-run.js';

interface Options {
  subscribers: number;
  rate: number;
  seconds: number;
  clientProcesses: number;
  share: boolean;
  quick: boolean;
  scale: boolean;
  profileDir: string | null;
  /** `-N-at-R` in the result's name when --subscribers or --rate was given; empty otherwise. */
  sized: string;
  /** Which processes to measure, in order. */
  phases: ('gateway' | 'floor')[];
}

const SUBSCRIBERS_PER_CLIENT_PROCESS = 2500;

const log = (line: string) => process.stderr.write(`${line}\n`);

function parseOptions(argv: string[]): Options {
  const flag = (name: string) => argv.includes(`--${name}`);
  const quick = flag('quick');
  const scale = flag('scale');
  const number = (name: string, fallback: number) => {
    const raw = argv.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1];
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
    return value;
  };
  const subscribers = number('subscribers', scale ? 10_000 : quick ? 100 : 1000);
  const rate = number('rate', scale ? 1 : 100);
  const clientProcesses = number('client-processes', Math.ceil(subscribers / SUBSCRIBERS_PER_CLIENT_PROCESS));
  if (!Number.isInteger(clientProcesses) || clientProcesses > subscribers) {
    throw new Error('--client-processes must be a whole number, at most --subscribers');
  }
  return {
    quick,
    scale,
    subscribers,
    rate,
    seconds: number('seconds', scale ? 60 : quick ? 5 : 30),
    clientProcesses,
    share: !flag('no-share'),
    profileDir: argv.find((arg) => arg.startsWith('--profile='))?.slice('--profile='.length) ?? null,
    // A run of another size than its mode's gets a file of its own, not the mode's.
    sized: argv.some((arg) => /^--(subscribers|rate)=/.test(arg)) ? `-${subscribers}-at-${rate}` : '',
    phases: flag('floor') ? ['floor'] : scale || flag('with-floor') ? ['gateway', 'floor'] : ['gateway'],
  };
}

const resultName = (options: Options) =>
  `subscribers${options.scale ? '-scale' : ''}${options.sized}${options.phases.includes('gateway') ? '' : '-floor'}${options.quick ? '-quick' : ''}`;

async function measureAll(options: Options, messages: number, result: SubscribersResult): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-bench-subscribers-'));
  const redis = await startRedisServer({ dir, appendOnly: true });
  let publisher: Child<SubscribersPublisherApi> | null = null;
  try {
    publisher = await startChild<SubscribersPublisherApi>('./subscribers-publisher.ts');
    for (const phase of options.phases) {
      log(phase === 'floor' ? 'bare ws floor' : `gateway, shared execution ${options.share ? 'on' : 'off'}`);
      const args: PhaseArgs = {
        redisUrl: redis.url,
        process: { share: options.share, profileDir: options.profileDir, floor: phase === 'floor' },
        subscribers: options.subscribers,
        clientProcesses: options.clientProcesses,
        rate: options.rate,
        messages,
      };
      const figures = phaseResult(await runPhase(args, publisher), {
        subscribers: options.subscribers,
        messages,
      });
      if (phase === 'floor') result.floor = figures;
      else result.gateway = { ...figures, targets: verdicts(figures, result.targets) };
    }
  } finally {
    await publisher?.stop();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const messages = Math.round(options.rate * options.seconds);
  // The gateway (or floor) holds every socket; a client process holds its share of them.
  const openFiles = raiseOpenFiles(options.subscribers + FD_MARGIN, `${options.subscribers} subscribers`);
  if (!openFiles) return; // re-ran itself under `ulimit -n`; that run reported
  const header =
    `subscribers: ${options.subscribers} over ${options.clientProcesses} client process(es), ` +
    `${options.rate} msg/s for ${options.seconds} s (${messages} messages); open files ${openFiles.soft}` +
    `${openFiles.raisedFrom === null ? '' : ` (raised from ${openFiles.raisedFrom} by ${openFiles.how})`}`;
  log(header);
  if (options.phases.includes('gateway')) buildGateway();
  const result: SubscribersResult = {
    benchmark: 'subscribers',
    at: new Date().toISOString(),
    source: source(),
    machine: machineInfo(),
    options,
    openFiles,
    targets: targetsFor(options.subscribers),
  };
  await measureAll(options, messages, result);
  printTable(result, header);
  log(`wrote ${await writeResult(result, resultName(options))}`);
  const met = result.gateway?.targets;
  if (met && (!met.everySubscriberEveryMessage || !met.p99Met || !met.rssMet)) process.exitCode = 1;
}

await main();
