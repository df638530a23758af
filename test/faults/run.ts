/**
 * `npm run faults`: the long form of the fault suite (issue 19). Runs every case with the long
 * sizes (20 gateway kills, 10 Redis kills, 30 s outages, both SIGTERM cases, the embedded default),
 * prints each table, and writes the figures to test/faults/results/<date>.json, like the bench.
 * `--quick` uses the short sizes of the tests; `--only=<case,...>` runs some cases
 * (gateway-kill, redis-kill, embedded, outage-stop, outage-pause, receivers, sigterm, sigterm-second).
 * Exits 1 when a case breaks a promise (the JSON says which).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './processes.js';
import { formatLoadRun, formatOutage, formatReceivers, formatSigterm } from './report.js';
import { runEmbeddedKill } from './scenarios/embedded.js';
import { runGatewayKill, runRedisKill } from './scenarios/kills.js';
import type { LoadRunResult } from './scenarios/load-run.js';
import { runReceivers } from './scenarios/receivers.js';
import { type OutageResult, runRedisOutage } from './scenarios/redis-outage.js';
import { runSigterm, type SigtermResult } from './scenarios/sigterm.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args
  .find((arg) => arg.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const wanted = (name: string) => !only || only.includes(name);

interface CaseResult {
  name: string;
  /** The promises this case holds, each with whether it held. */
  checks: Record<string, boolean>;
  figures: unknown;
  seconds: number;
  loadAverage: [number, number];
  error?: string;
}

const cases: CaseResult[] = [];

async function run<T>(
  name: string,
  work: () => Promise<T>,
  checks: (result: T) => Record<string, boolean>,
  print: (result: T) => string,
) {
  if (!wanted(name)) return;
  const started = Date.now();
  const loadBefore = loadavg()[0] ?? 0;
  process.stdout.write(`\n== ${name} ==\n`);
  try {
    const result = await work();
    process.stdout.write(`${print(result)}\n`);
    const verdicts = checks(result);
    const broken = Object.entries(verdicts).filter(([, held]) => !held);
    process.stdout.write(
      broken.length ? `BROKEN: ${broken.map(([check]) => check).join('; ')}\n` : 'all promises held\n',
    );
    cases.push({
      name,
      checks: verdicts,
      figures: result,
      seconds: (Date.now() - started) / 1000,
      loadAverage: [loadBefore, loadavg()[0] ?? 0],
    });
  } catch (error) {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stdout.write(`FAILED TO RUN: ${text}\n`);
    cases.push({
      name,
      checks: { ran: false },
      figures: null,
      seconds: (Date.now() - started) / 1000,
      loadAverage: [loadBefore, loadavg()[0] ?? 0],
      error: text,
    });
  }
}

const loadChecks = (result: LoadRunResult) => ({
  'no acknowledged publish lost': result.lost === 0,
  'no publish answered with an error stored': result.verdict.erroredButStored.length === 0,
  'no half-stored fan-out': result.verdict.halfStored.length === 0,
  'no publish stored twice': result.verdict.doubleStored.length === 0,
  'duplicates within what was in flight': result.duplicates <= result.totalInFlight,
  'every held delivery recovered': result.faults.every((fault) => fault.recoveryMs !== null),
});

const outageChecks = (result: OutageResult) => ({
  'at least 200 tries': result.latency.count >= 200,
  'every try answered UNAVAILABLE': Object.keys(result.codes).join() === 'UNAVAILABLE',
  'P99 under 100 ms': result.latency.p99 < 100,
  '/health 503': result.health.statuses.every((status) => status === 503),
  'websocket subscriber told': result.subscriber.closes.length + result.subscriber.errors.length > 0,
  'deliveries resumed within 5 s':
    (result.resumeMs.webhook ?? 1e9) <= 5_000 && (result.resumeMs.consumer ?? 1e9) <= 5_000,
  'no acknowledged publish lost': result.lost === 0,
  'no publish answered with an error stored': result.verdict.erroredButStored.length === 0,
  'no half-stored fan-out': result.verdict.halfStored.length === 0,
});

const sigtermChecks =
  (second: boolean) =>
  (result: SigtermResult): Record<string, boolean> =>
    second
      ? {
          'ended within 1 s of the second signal': (result.exitAfterSecondSignalMs ?? 1e9) < 1_000,
          'no acknowledged publish lost': result.lost === 0,
          'no publish answered with an error stored': result.verdict.erroredButStored.length === 0,
        }
      : {
          'exit 0': result.exit.code === 0,
          '503 UNAVAILABLE with Retry-After on an open connection':
            result.keptAlive.second?.status === 503 && result.keptAlive.second.retryAfter !== null,
          'websockets closed with 1001': result.websocketCloses.includes(1001),
          'no webhook delivery started once the drain began': result.webhookStartsByAAfterTerm.length === 0,
          'deliveries under way finished, not redelivered': result.webhookInFlightRedelivered === 0,
          'unacked consumer deliveries handed back within 10 s': (result.handBackMs ?? 1e9) < 10_000,
          'no acknowledged publish lost': result.lost === 0,
        };

await run(
  'gateway-kill',
  () =>
    runGatewayKill({
      faults: quick ? 3 : 20,
      ratePerSecond: 30,
      minGapMs: 1_500,
      maxGapMs: 4_000,
      settleTimeoutMs: 120_000,
    }),
  loadChecks,
  (result) => formatLoadRun('kill -9 of a gateway under load', result),
);
await run(
  'redis-kill',
  () =>
    runRedisKill({
      faults: quick ? 2 : 10,
      ratePerSecond: 30,
      minGapMs: 1_500,
      maxGapMs: 4_000,
      settleTimeoutMs: 120_000,
    }),
  loadChecks,
  (result) => formatLoadRun('redis-server killed under load', result),
);
await run(
  'embedded',
  () => runEmbeddedKill(quick ? 40 : 500),
  (result) => ({
    'no orphan redis-server': result.orphanGoneMs !== null,
    'every acknowledged message found after the restart': result.found === result.published,
  }),
  (result) => `embedded Redis: ${JSON.stringify(result)}`,
);
for (const mode of ['stop', 'pause'] as const) {
  await run(
    `outage-${mode}`,
    () => runRedisOutage({ mode, outageMs: quick ? 5_000 : 30_000, tries: 200, settleTimeoutMs: 90_000 }),
    outageChecks,
    formatOutage,
  );
}
await run(
  'receivers',
  () => runReceivers({ ackTimeoutMs: 2_000, messagesPerQueue: quick ? 2 : 10 }),
  (result) => {
    const outcome = (name: string) =>
      JSON.stringify(result.behaviours.find((entry) => entry.behaviour === name)?.outcomes);
    const n = quick ? 2 : 10;
    return {
      'hang: TIMEOUT': outcome('hang') === JSON.stringify({ TIMEOUT: n }),
      'reset: DEPENDENCY': outcome('reset') === JSON.stringify({ DEPENDENCY: n }),
      'garbage status line: DEPENDENCY': outcome('garbage') === JSON.stringify({ DEPENDENCY: n }),
      'redirect: REJECTED': outcome('redirect') === JSON.stringify({ REJECTED: n }),
      'no attempt past ackTimeoutMs + 1.5 s': result.behaviours.every(
        (entry) => (entry.maxAttemptMs ?? 0) < 3_500,
      ),
      'RSS within 64 MiB of the start': result.rss.maxBytes - result.rss.beforeBytes < 64 * 1024 * 1024,
    };
  },
  formatReceivers,
);
await run(
  'sigterm',
  () =>
    runSigterm({
      secondSignalAfterMs: null,
      receiverDelayMs: 4_000,
      graceMs: 30_000,
      consumerAckTimeoutMs: 60_000,
      settleTimeoutMs: 90_000,
    }),
  sigtermChecks(false),
  (result) => formatSigterm('SIGTERM under load', result),
);
await run(
  'sigterm-second',
  () =>
    runSigterm({
      secondSignalAfterMs: 500,
      receiverDelayMs: 20_000,
      graceMs: 30_000,
      consumerAckTimeoutMs: 5_000,
      settleTimeoutMs: 120_000,
    }),
  sigtermChecks(true),
  (result) => formatSigterm('SIGTERM then SIGINT while deliveries hang', result),
);

const git = (...gitArgs: string[]) =>
  spawnSync('git', ['--no-optional-locks', ...gitArgs], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
const redis = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim();
const date = new Date().toISOString();
const output = {
  date,
  mode: quick ? 'quick' : 'full',
  source: { commit: git('rev-parse', 'HEAD'), uncommittedChanges: git('status', '--porcelain') !== '' },
  machine: {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    kernel: release(),
    node: process.version,
    redis,
  },
  cases,
};
const dir = join(ROOT, 'test/faults/results');
await mkdir(dir, { recursive: true });
const file = join(dir, `${date.slice(0, 19).replaceAll(':', '-')}.json`);
await writeFile(file, `${JSON.stringify(output, null, 2)}\n`);
process.stdout.write('\n| case | seconds | promises broken |\n| --- | --- | --- |\n');
for (const result of cases) {
  const broken = Object.entries(result.checks)
    .filter(([, held]) => !held)
    .map(([check]) => check);
  process.stdout.write(
    `| ${result.name} | ${result.seconds.toFixed(0)} | ${broken.join('; ') || 'none'} |\n`,
  );
}
process.stdout.write(`\nwrote ${file}\n`);
process.exit(cases.every((result) => Object.values(result.checks).every(Boolean)) ? 0 : 1);
