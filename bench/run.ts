/**
 * `npm run bench`: Switchyard's core paths side by side with raw BullMQ doing the same work, in one
 * run on one fresh redis-server. `-- --quick` runs every scenario once, small (the CI smoke run);
 * `-- --only=3,5` picks scenarios; `-- --profile` CPU-profiles the gateway during scenario 3 (or
 * the first of --only), `-- --profile=alloc` samples what it allocates per message; `-- --cluster` runs scenarios 1-4 on one Redis and then on a local Redis
 * Cluster (3 masters, 3 replicas) in the same run; `-- --instances=2` runs scenarios 1 and 3 with
 * one gateway and then with two gateway instances on the same Redis, in the same run. See
 * docs/PERFORMANCE.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../queues/redis/index.js';
import { startRedisServer } from '../server/redis-process.js';
import { startTestCluster } from '../test/cluster/cluster.js';
import { buildGateway } from './built-gateway.js';
import { type Bench, redisVersion, startReceiver } from './harness.js';
import { FULL_SIZES, parseOptions, QUICK_SIZES } from './options.js';
import { PAYLOAD_BYTES } from './payload.js';
import { runProfile } from './profile.js';
import { benchRedis, clusterSpec } from './redis-target.js';
import {
  type BenchResult,
  figureResults,
  machine,
  missedTargets,
  renderInstancesTable,
  renderTable,
  type ScenarioResult,
  source,
  writeResults,
} from './report.js';
import type { Scenario, Side } from './scenario.js';
import { SCENARIOS } from './scenarios/index.js';
import { START_FLAGS } from './start-flags.js';

/** The scenarios --cluster runs on both: ingest single and batch, end to end, fan-out. */
const CLUSTER_SCENARIOS = new Set([1, 2, 3, 4]);

/** The scenarios --instances runs with one gateway and then with several: ingest single, end to end. */
const INSTANCE_SCENARIOS = new Set([1, 3]);

/** The scenario --profile profiles unless --only names another: end to end, webhook. */
const PROFILED_SCENARIO = 3;

const log = (line: string) => process.stderr.write(`${line}\n`);

async function runScenario(bench: Bench, scenario: Scenario): Promise<ScenarioResult> {
  const started = performance.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const rounds: Record<Side, Record<string, number>[]> = { switchyard: [], raw: [] };
  const errors: string[] = [];
  try {
    const open = await scenario.open(bench);
    try {
      if (bench.sizes.warmUp) {
        for (const side of ['switchyard', 'raw'] as const) {
          log(`  warm-up ${side}`);
          await open.run(side, { round: 0, tag: `s${scenario.id}-warm` });
        }
      }
      for (let round = 1; round <= bench.sizes.rounds; round++) {
        // Alternate who goes first, so neither side always runs on a Redis the other just filled.
        const order: Side[] = round % 2 === 1 ? ['switchyard', 'raw'] : ['raw', 'switchyard'];
        for (const side of order) {
          const figures = await open.run(side, { round, tag: `s${scenario.id}-r${round}` });
          rounds[side].push(figures);
          log(
            `  round ${round} ${side}: ${JSON.stringify(figures, (_, v) => (typeof v === 'number' ? Number(v.toPrecision(4)) : v))}`,
          );
        }
      }
    } finally {
      await open.close();
    }
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    errors.push(text);
    log(`  FAILED: ${text}`);
  }
  return {
    id: scenario.id,
    title: scenario.title,
    summary: scenario.summary,
    figures: figureResults(scenario.figures, rounds),
    errors,
    seconds: (performance.now() - started) / 1000,
    loadAverage: [loadAtStart, loadavg()[0] ?? 0],
  };
}

/** FLUSHALL on one Redis, or on every master of a cluster. */
async function flushAll(admin: RedisClient): Promise<void> {
  if (admin instanceof Cluster) await Promise.all(admin.nodes('master').map((node) => node.flushall()));
  else await admin.flushall();
}

/**
 * Runs `measure` on a local Redis Cluster of 3 masters and 3 replicas (test/cluster/cluster.ts, with
 * AOF everysec as the single Redis has), the Redis CPU summed over the masters.
 */
async function onCluster<T>(measure: (bench: Bench) => Promise<T>, single: Bench): Promise<T> {
  const cluster = await startTestCluster();
  const redisUrl = clusterSpec(cluster.ports);
  const admin = benchRedis(redisUrl);
  try {
    const masters = await cluster.masters();
    return await measure({
      ...single,
      redisUrl,
      redisPid: masters.map((port) => cluster.pidOf(port)),
      admin,
    });
  } finally {
    admin.disconnect();
    await cluster.stop();
  }
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const sizes = options.quick ? QUICK_SIZES : FULL_SIZES;
  buildGateway();
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-bench-'));
  // The embedded default's persistence: AOF, fsync every second.
  const redis = await startRedisServer({ dir, appendOnly: true, appendFsync: 'everysec' });
  const admin = new Redis(redis.url, { maxRetriesPerRequest: null });
  const receiver = await startReceiver();
  try {
    const bench: Bench = {
      sizes,
      redisUrl: redis.url,
      redisPid: redis.pid,
      admin,
      receiver,
      receiverUrl: await receiver.call('url'),
      gatewayFlags: [...START_FLAGS],
      instances: 1,
    };
    if (options.profile) {
      const id = options.only ? Math.min(...options.only) : PROFILED_SCENARIO;
      const scenario = SCENARIOS.find((candidate) => candidate.id === id);
      if (!scenario) throw new Error(`no scenario ${id}`);
      return await runProfile(bench, scenario, options.profile);
    }
    const started = new Date();
    const chosen = SCENARIOS.filter(
      (scenario) =>
        (!options.only || options.only.has(scenario.id)) &&
        (!options.cluster || CLUSTER_SCENARIOS.has(scenario.id)) &&
        (options.instances === 1 || INSTANCE_SCENARIOS.has(scenario.id)),
    );
    const runAll = async (on: Bench, label: string) => {
      const results: ScenarioResult[] = [];
      for (const scenario of chosen) {
        log(`${scenario.id}. ${scenario.title}${label}`);
        results.push(await runScenario(on, scenario));
        // Nothing of one scenario is left for the next to trip over.
        await flushAll(on.admin);
      }
      return results;
    };
    const scenarios = await runAll(bench, '');
    const clusterScenarios = options.cluster
      ? await onCluster((on) => runAll(on, ' (cluster)'), bench)
      : null;
    const { instances } = options;
    const scaledOut =
      instances > 1 ? await runAll({ ...bench, instances }, ` (${instances} gateway instances)`) : null;
    const result: BenchResult = {
      date: started.toISOString(),
      source: source(),
      mode: options.quick ? 'quick' : 'full',
      warmUp: sizes.warmUp,
      rounds: sizes.rounds,
      payloadBytes: PAYLOAD_BYTES,
      machine: machine(await redisVersion(admin)),
      scenarios,
    };
    let table = renderTable(result);
    if (clusterScenarios) {
      const clusterResult: BenchResult = { ...result, scenarios: clusterScenarios };
      table = `## One Redis\n\n${table}\n\n## Redis Cluster: 3 masters, 3 replicas\n\n${renderTable(clusterResult)}`;
      result.cluster = clusterScenarios;
    }
    if (scaledOut) {
      const scaledResult: BenchResult = { ...result, scenarios: scaledOut };
      table =
        `## One gateway\n\n${table}\n\n## ${instances} gateway instances on one Redis\n\n${renderTable(scaledResult)}` +
        `\n\n## ${instances} gateways against one\n\n${renderInstancesTable(scenarios, scaledOut, instances)}`;
      result.instances = { count: instances, scenarios: scaledOut };
    }
    process.stdout.write(`\n${table}\n\n`);
    const missed = missedTargets(result);
    if (missed.length > 0) log(`Targets missed:\n  ${missed.join('\n  ')}`);
    log(
      `Wrote ${(await writeResults(result, table)).join(', ')} in ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s`,
    );
    // A missed target is a finding, not a failure; a scenario that could not run is a failure.
    return [...scenarios, ...(clusterScenarios ?? []), ...(scaledOut ?? [])].some(
      (scenario) => scenario.errors.length > 0,
    )
      ? 1
      : 0;
  } finally {
    await receiver.stop();
    admin.disconnect();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// Interrupted: leave through process.exit, whose 'exit' hook stops redis-server; the children see
// their IPC channel close and exit by themselves.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));
process.exitCode = await main();
