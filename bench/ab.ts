/**
 * `npm run bench:ab -- --base=<rev> --head=<rev|WORKTREE> [--paths=a,b] [--scenario=1|2|6] [--rate=R] [--rounds=N] [--seconds=S]`:
 * two revisions' gateways compared in one run. Each revision is built in a temporary worktree
 * (node_modules linked to this checkout's), both gateways run on one redis-server of this run's own,
 * and the same load goes to each in alternating rounds (a warm-up each, then A B, B A, A B, ...), so
 * both see the same machine. The figure is the gateway's own CPU per message (process.cpuUsage, read
 * before and after each round), which a shared machine disturbs far less than throughput.
 * WORKTREE is this checkout's files as they are now: HEAD with every modified and untracked file
 * copied over (another helper's uncommitted files included, unless `--paths=server,schema/x.ts` limits
 * the copy to those paths). Loopback only; everything it starts,
 * worktrees included, is removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisServer } from '../server/redis-process.js';
import type { AbGatewayApi } from './ab-gateway.js';
import { startLoadgen } from './harness.js';
import type { LoadgenApi } from './loadgen-process.js';
import { cpuSeconds } from './proc-stats.js';
import { type Child, startChild } from './rpc.js';
import { START_FLAGS } from './start-flags.js';
import { type Summary, summarize } from './stats.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const WORKTREE = 'WORKTREE';
const IN_FLIGHT = 256;
/** Scenario 6: messages put in the queue before each round (not measured), then received and acked. */
const PULL_FILL = 20_000;
const PULL_LOOPS = 4;
const PULL_MAX = 100;
/** Scenario 2, as bench/scenarios/ingest-batch.ts runs it (bench/options.ts' full sizes). */
const BATCH_SIZE = 100;
const BATCHES_IN_FLIGHT = 16;

const log = (line: string) => process.stderr.write(`${line}\n`);

const SCENARIOS = [1, 2, 6] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Options {
  base: string;
  head: string;
  /** 1: `publish`, 256 in flight; 2: `publishBatch` of 100, 16 in flight; 6: receive and ack. */
  scenario: Scenario;
  /**
   * Scenario 1 at a fixed rate (publishes/s, open loop) instead of 256 in flight: both sides then do
   * the same work per second, so their CPU per publish is not swayed by how much each batched at the
   * throughput the machine let it reach. Null: closed loop.
   */
  rate: number | null;
  /** WORKTREE copies only the changed files under these paths (git pathspecs); all when empty. */
  paths: string[];
  rounds: number;
  seconds: number;
}

function parseOptions(argv: readonly string[]): Options {
  const options: Partial<Options> = { scenario: 1, rate: null, paths: [], rounds: 5, seconds: 5 };
  const bounded = (arg: string, name: string, max: number) => {
    const value = Number(arg.slice(name.length + 3));
    if (!Number.isInteger(value) || value < 1 || value > max)
      throw new Error(`--${name} takes a whole number from 1 to ${max}, got ${arg}`);
    return value;
  };
  for (const arg of argv) {
    if (arg.startsWith('--base=')) options.base = arg.slice('--base='.length);
    else if (arg.startsWith('--head=')) options.head = arg.slice('--head='.length);
    else if (arg.startsWith('--scenario=')) {
      const scenario = SCENARIOS.find((known) => arg === `--scenario=${known}`);
      if (scenario === undefined) throw new Error(`--scenario takes ${SCENARIOS.join(', ')}, got ${arg}`);
      options.scenario = scenario;
    } else if (arg.startsWith('--paths='))
      options.paths = arg.slice('--paths='.length).split(',').filter(Boolean);
    else if (arg.startsWith('--rate=')) options.rate = bounded(arg, 'rate', 20_000);
    else if (arg.startsWith('--rounds=')) options.rounds = bounded(arg, 'rounds', 20);
    else if (arg.startsWith('--seconds=')) options.seconds = bounded(arg, 'seconds', 30);
    else
      throw new Error(
        `unknown option ${arg}; use --base=<rev> --head=<rev|WORKTREE> [--paths=a,b] [--scenario=1|2|6] [--rate=R] [--rounds=N] [--seconds=S]`,
      );
  }
  if (!options.base || !options.head) throw new Error('--base=<rev> and --head=<rev|WORKTREE> are required');
  if (options.rate !== null && options.scenario !== 1) throw new Error('--rate applies to --scenario=1 only');
  return options as Options;
}

function git(args: string[], cwd = ROOT): string {
  const result = spawnSync('git', ['--no-optional-locks', ...args], { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr.trim()}`);
  return result.stdout;
}

/** One revision, built in a worktree of its own. */
interface Build {
  label: 'A' | 'B';
  rev: string;
  commit: string;
  /** Files of this checkout copied over HEAD (WORKTREE only). */
  copied: number;
  dir: string;
}

const worktrees: string[] = [];

/** Removes every worktree this run added; synchronous, so the 'exit' hook can run it too. */
function removeWorktrees(): void {
  for (const dir of worktrees.splice(0)) {
    spawnSync('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT, stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
  spawnSync('git', ['worktree', 'prune'], { cwd: ROOT, stdio: 'ignore' });
}

/** Copies this checkout's modified and untracked files over the worktree, and deletes its deleted ones. */
function overlayWorkingFiles(dir: string, paths: readonly string[]): number {
  const changed = git(['ls-files', '-z', '--modified', '--others', '--exclude-standard', '--', ...paths])
    .split('\0')
    .filter(Boolean);
  for (const path of new Set(changed)) {
    const from = join(ROOT, path);
    const to = join(dir, path);
    if (existsSync(from)) {
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to);
    } else rmSync(to, { force: true });
  }
  return changed.length;
}

function build(label: 'A' | 'B', rev: string, parent: string, paths: readonly string[]): Build {
  const commit = git(['rev-parse', '--verify', `${rev === WORKTREE ? 'HEAD' : rev}^{commit}`]).trim();
  const dir = join(parent, label);
  git(['worktree', 'add', '--detach', dir, commit]);
  worktrees.push(dir);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const copied = rev === WORKTREE ? overlayWorkingFiles(dir, paths) : 0;
  log(`${label}: ${rev} (${commit.slice(0, 10)}${copied ? ` + ${copied} working files` : ''}), building`);
  // The gateway only: the dashboard's Vite build is not on any measured path.
  for (const step of [
    ['npx', 'tsc', '-p', 'tsconfig.build.json'],
    ['npm', 'run', '--if-present', 'build:lua'],
  ]) {
    const [command = '', ...args] = step;
    const result = spawnSync(command, args, { cwd: dir, stdio: ['ignore', 2, 2] });
    if (result.status !== 0)
      throw new Error(`${label}: ${step.join(' ')} failed (exit code ${result.status})`);
  }
  return { label, rev, commit, copied, dir };
}

interface Side {
  build: Build;
  child: Child<AbGatewayApi>;
  url: string;
}

async function startSide(built: Build, redisUrl: string): Promise<Side> {
  const child = await startChild<AbGatewayApi>('./ab-gateway.ts', {
    nodeFlags: [...START_FLAGS],
    env: {
      AB_DIST: join(built.dir, 'dist'),
      REDIS_URL: redisUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      SWITCHYARD_PREFIX: `ab${built.label}`,
      // Errors only: the queue-depth alert and the unbuilt dashboard would warn in every run.
      SWITCHYARD_LOG_LEVEL: 'error',
      SWITCHYARD_GRAPHIQL: 'false',
      NODE_ENV: 'production',
    },
  });
  return { build: built, child, url: await child.call('url') };
}

interface Round {
  label: 'A' | 'B';
  round: number;
  messages: number;
  elapsedMs: number;
  /** Gateway CPU µs per message. */
  cpuUsPerMessage: number;
  /** Redis CPU µs per message (this run's own redis-server). */
  redisUsPerMessage: number;
  perSecond: number;
  loadAverage: number;
}

/** One measured (or warm-up) round of the chosen scenario against one side. */
async function runRound(
  options: Options,
  side: Side,
  load: Child<LoadgenApi>,
  redisPid: number,
  round: number,
): Promise<Round> {
  const topic = `ab-${side.build.label}-r${round}`;
  // The warm-up runs twice as long: the first seconds of a new process are its JIT's.
  const timeoutMs = options.seconds * 1000 * (round === 0 ? 2 : 1);
  await side.child.call('createTopology', topic);
  try {
    if (options.scenario === 6) {
      const filled = await load.call('publishBatchClosed', {
        url: side.url,
        topic,
        batches: PULL_FILL / 100,
        batchSize: 100,
        concurrency: 8,
        timeoutMs: 120_000,
      });
      if (filled.errors > 0 || filled.cutShort)
        throw new Error(`filling: ${filled.firstError ?? 'cut short'}`);
    }
    const cpuBefore = await side.child.call('cpu');
    const redisBefore = cpuSeconds(redisPid);
    const { messages, elapsedMs } =
      options.scenario === 1
        ? await publish(load, side.url, topic, timeoutMs, options.rate)
        : options.scenario === 2
          ? await publishBatches(load, side.url, topic, timeoutMs)
          : await pull(load, side.url, topic, timeoutMs);
    const cpuUs = (await side.child.call('cpu')) - cpuBefore;
    const redisUs = (cpuSeconds(redisPid) - redisBefore) * 1e6;
    return {
      label: side.build.label,
      round,
      messages,
      elapsedMs,
      cpuUsPerMessage: cpuUs / messages,
      redisUsPerMessage: redisUs / messages,
      perSecond: (messages * 1000) / elapsedMs,
      loadAverage: loadavg()[0] ?? 0,
    };
  } finally {
    await side.child.call('deleteTopology', topic);
  }
}

async function publish(
  load: Child<LoadgenApi>,
  url: string,
  topic: string,
  timeoutMs: number,
  rate: number | null,
) {
  if (rate !== null) {
    const result = await load.call('publishOpen', {
      url,
      topic,
      ratePerSecond: rate,
      durationMs: timeoutMs,
      warm: false,
    });
    if (result.errors > 0 || result.skipped > 0)
      throw new Error(
        `publish at ${rate}/s: ${result.errors} errors, ${result.skipped} skipped (${result.firstError}); try a lower --rate`,
      );
    return { messages: result.done, elapsedMs: result.elapsedMs };
  }
  // A count no round reaches: the window ends it.
  const result = await load.call('publishClosed', {
    url,
    topic,
    count: 10_000_000,
    concurrency: IN_FLIGHT,
    timeoutMs,
  });
  if (result.errors > 0) throw new Error(`publish: ${result.errors} errors, the first: ${result.firstError}`);
  return { messages: result.done, elapsedMs: result.elapsedMs };
}

/** Scenario 2: `publishBatch` of {@link BATCH_SIZE}, {@link BATCHES_IN_FLIGHT} in flight, for the window. */
async function publishBatches(load: Child<LoadgenApi>, url: string, topic: string, timeoutMs: number) {
  const result = await load.call('publishBatchClosed', {
    url,
    topic,
    // A count no round reaches: the window ends it.
    batches: 1_000_000,
    batchSize: BATCH_SIZE,
    concurrency: BATCHES_IN_FLIGHT,
    timeoutMs,
  });
  if (result.errors > 0)
    throw new Error(`publishBatch: ${result.errors} errors, the first: ${result.firstError}`);
  return { messages: result.done * BATCH_SIZE, elapsedMs: result.elapsedMs };
}

async function pull(load: Child<LoadgenApi>, url: string, topic: string, timeoutMs: number) {
  const result = await load.call('pullGraphql', {
    url,
    topic,
    queue: 'q',
    loops: PULL_LOOPS,
    max: PULL_MAX,
    expected: PULL_FILL,
    timeoutMs,
  });
  return { messages: result.acked, elapsedMs: result.elapsedMs };
}

const fixed = (value: number, digits: number) => value.toFixed(digits);
const percent = (change: number) => `${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)} %`;
/** What one message of each scenario is, for the report. */
const UNITS: Record<Scenario, { unit: string; units: string }> = {
  1: { unit: 'publish', units: 'publishes' },
  2: { unit: 'message', units: 'messages' },
  6: { unit: 'ack', units: 'acks' },
};
const cell = (summary: Summary, digits: number) =>
  `${fixed(summary.median, digits)} (${fixed(summary.min, digits)}–${fixed(summary.max, digits)})`;

function report(options: Options, builds: Build[], rounds: Round[]) {
  const of = (label: string) => rounds.filter((round) => round.label === label);
  const sides = builds.map((built) => ({
    label: built.label,
    rev: built.rev,
    commit: built.commit,
    cpuUsPerMessage: summarize(of(built.label).map((round) => round.cpuUsPerMessage)),
    redisUsPerMessage: summarize(of(built.label).map((round) => round.redisUsPerMessage)),
    perSecond: summarize(of(built.label).map((round) => round.perSecond)),
  }));
  const [a, b] = sides;
  const change = a && b ? b.cpuUsPerMessage.median / a.cpuUsPerMessage.median - 1 : Number.NaN;
  const redisChange = a && b ? b.redisUsPerMessage.median / a.redisUsPerMessage.median - 1 : Number.NaN;
  const { unit, units } = UNITS[options.scenario];
  const lines = [
    `| side | revision | gateway CPU µs / ${unit} | Redis CPU µs / ${unit} | ${units}/s |`,
    '| ---- | -------- | ---: | ---: | ---: |',
    ...sides.map(
      (side) =>
        `| ${side.label} | ${side.rev} (${side.commit.slice(0, 10)}) | ${cell(side.cpuUsPerMessage, 1)} | ${cell(side.redisUsPerMessage, 1)} | ${cell(side.perSecond, 0)} |`,
    ),
  ];
  const loads = rounds.map((round) => round.loadAverage);
  const table = `${lines.join('\n')}\n\nB against A, CPU per ${unit} (medians): gateway ${percent(change)}, Redis ${percent(redisChange)}; ${options.rounds} rounds of ${options.seconds} s each${options.rate ? ` at ${options.rate}/s` : ''}; load average ${fixed(Math.min(...loads), 1)}–${fixed(Math.max(...loads), 1)}`;
  return { sides, change, redisChange, table };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const parent = mkdtempSync(join(tmpdir(), 'switchyard-ab-'));
  const started = new Date();
  const children: { stop(): Promise<void> }[] = [];
  const redisDir = join(parent, 'redis');
  let redis: Awaited<ReturnType<typeof startRedisServer>> | undefined;
  try {
    const builds = [
      build('A', options.base, parent, options.paths),
      build('B', options.head, parent, options.paths),
    ];
    redis = await startRedisServer({ dir: redisDir, appendOnly: true, appendFsync: 'everysec' });
    const load = await startLoadgen();
    children.push(load);
    const sides: Side[] = [];
    for (const built of builds) {
      const side = await startSide(built, redis.url);
      children.push(side.child);
      sides.push(side);
    }
    const [a, b] = sides as [Side, Side];
    for (const side of [a, b]) {
      log(`warm-up ${side.build.label}`);
      await runRound(options, side, load, redis.pid, 0);
    }
    const rounds: Round[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      // A B, then B A: neither side always runs right after the other.
      for (const side of round % 2 === 1 ? [a, b] : [b, a]) {
        const result = await runRound(options, side, load, redis.pid, round);
        rounds.push(result);
        log(
          `round ${round} ${result.label}: ${fixed(result.cpuUsPerMessage, 1)} µs/msg gateway, ${fixed(result.redisUsPerMessage, 1)} Redis, ${fixed(result.perSecond, 0)}/s, load ${fixed(result.loadAverage, 1)}`,
        );
      }
    }
    const { sides: summaries, change, redisChange, table } = report(options, builds, rounds);
    process.stdout.write(`\n${table}\n\n`);
    const dir = join(ROOT, 'bench/results');
    await mkdir(dir, { recursive: true });
    const file = join(dir, `ab-${started.toISOString().slice(0, 19).replaceAll(':', '-')}.json`);
    const json = { date: started.toISOString(), ...options, sides: summaries, change, redisChange, rounds };
    await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
    log(`Wrote ${file}`);
  } finally {
    await Promise.allSettled(children.map((child) => child.stop()));
    await redis?.stop();
    removeWorktrees();
    rmSync(parent, { recursive: true, force: true });
  }
}

// Interrupted: the 'exit' hooks stop redis-server and remove the worktrees; the children see their
// IPC channel close and exit by themselves.
process.once('exit', removeWorktrees);
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));
await main();
