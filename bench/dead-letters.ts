/**
 * Dead-letter benchmark: 100,000 dead letters across 20 queues of one topic, then
 *   - P50/P95/P99 of a filtered first page (queue + reason, 50 items) over 200 queries,
 *   - the same for totalCount of that filter, and for a few other shapes of query,
 *   - the time to replay 10,000 dead letters selected by a filter.
 * The dead letters are real BullMQ failed jobs (published through the engine, failed by plain BullMQ
 * workers that write the attempt log as the gateway does) and indexed by the engine's repair path.
 *
 *   npm run bench:dead-letters [-- --dead-letters 100000 --queues 20 --queries 200 --replay 10000]
 *
 * Prints a table and writes bench/results/dead-letters.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { FailureReason } from '../queues/core/index.js';
import type { DeadLetterFilter } from '../queues/dead-letters/index.js';
import { createEngine, type Engine } from '../queues/engine/index.js';
import { startRedisServer } from '../server/redis-process.js';

const { values: args } = parseArgs({
  options: {
    'dead-letters': { type: 'string', default: '100000' },
    queues: { type: 'string', default: '20' },
    queries: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    replay: { type: 'string', default: '10000' },
    out: { type: 'string', default: 'bench/results/dead-letters.json' },
  },
});
const TOTAL = Number(args['dead-letters']);
const QUEUES = Number(args.queues);
const QUERIES = Number(args.queries);
const WARMUP = Number(args.warmup);
const REPLAY = Number(args.replay);
const TOPIC = 'bench';
const BATCH = 1000;
/** Reasons in the proportions a bad day might show. */
const REASONS: readonly FailureReason[] = [
  'REJECTED',
  'REJECTED',
  'REJECTED',
  'REJECTED',
  'PROCESSING',
  'PROCESSING',
  'PROCESSING',
  'TIMEOUT',
  'TIMEOUT',
  'DEPENDENCY',
];

const queueName = (n: number) => `q${String(n).padStart(2, '0')}`;
const reasonOf = (index: number) => REASONS[index % REASONS.length] ?? 'UNKNOWN';

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const low = sorted[Math.floor(rank)] ?? Number.NaN;
  const high = sorted[Math.ceil(rank)] ?? Number.NaN;
  return low + (high - low) * (rank - Math.floor(rank));
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

async function publishAll(engine: Engine): Promise<void> {
  for (let start = 0; start < TOTAL; start += BATCH) {
    const size = Math.min(BATCH, TOTAL - start);
    await engine.publishBatch(
      Array.from({ length: size }, (_, n) => {
        const index = start + n;
        return {
          topic: TOPIC,
          routingKey: queueName(index % QUEUES),
          payload: {
            index,
            order: `ord-${index}`,
            total: (index % 977) / 10,
            items: [{ sku: 'sku-1', qty: 1 }],
          },
          headers: { 'x-tenant': `t${index % 7}` },
        };
      }),
    );
  }
}

/** Fails every waiting job with plain BullMQ workers, each attempt logged the way the gateway logs it. */
async function failAll(url: string, engine: Engine): Promise<void> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const workers = Array.from({ length: QUEUES }, (_, n) => {
    const worker = new Worker(
      queueName(n),
      async (job): Promise<void> => {
        const index = (job.data as { payload: { index: number } }).payload.index;
        const reason = reasonOf(index);
        const error = `upstream answered ${reason === 'REJECTED' ? 422 : 503} for order ord-${index}`;
        await job.log(
          JSON.stringify({ attempt: 1, at: new Date().toISOString(), reason, error, durationMs: 12 }),
        );
        throw new UnrecoverableError(`${reason}: ${error}`);
      },
      { connection, prefix: engine.keys.bullPrefix(TOPIC), concurrency: 100, autorun: true },
    );
    worker.on('error', () => {});
    return worker;
  });
  const counter = new Redis(url);
  try {
    const deadline = Date.now() + 10 * 60_000;
    for (;;) {
      const pipeline = counter.pipeline();
      for (let n = 0; n < QUEUES; n++)
        pipeline.zcard(`${engine.keys.bullPrefix(TOPIC)}:${queueName(n)}:failed`);
      const counts = ((await pipeline.exec()) ?? []).map(([, count]) => Number(count));
      const failed = counts.reduce((sum, count) => sum + count, 0);
      if (failed >= TOTAL) break;
      if (Date.now() > deadline) throw new Error(`only ${failed} of ${TOTAL} jobs failed within 10 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.close()));
    counter.disconnect();
    connection.disconnect();
  }
}

interface Row {
  measure: string;
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  target?: string;
}

async function measure(name: string, run: (i: number) => Promise<unknown>, target?: string): Promise<Row> {
  for (let i = 0; i < WARMUP; i++) await run(i);
  const times: number[] = [];
  for (let i = 0; i < QUERIES; i++) times.push((await timed(() => run(i))).ms);
  return {
    measure: name,
    n: QUERIES,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    p99: percentile(times, 99),
    max: Math.max(...times),
    target,
  };
}

const fmt = (ms: number) => ms.toFixed(2);

async function createQueues(engine: Engine): Promise<void> {
  await engine.createTopic({ name: TOPIC, kind: 'DIRECT' });
  for (let n = 0; n < QUEUES; n++) {
    await engine.createQueue({
      topic: TOPIC,
      name: queueName(n),
      bindingKey: queueName(n),
      target: 'CONSUMER',
      retry: { maxAttempts: 1 },
    });
  }
}

/** Publishes, fails and indexes {@link TOTAL} dead letters; answers how long each step took. */
async function fillDeadLetters(engine: Engine, redisUrl: string) {
  await createQueues(engine);
  console.log(`publishing ${TOTAL} messages to ${QUEUES} queues…`);
  const published = await timed(() => publishAll(engine));
  console.log(`failing them with BullMQ workers…`);
  const failed = await timed(() => failAll(redisUrl, engine));
  console.log(`indexing through the repair path…`);
  const repaired = await timed(() => engine.deadLetters.repair());
  const all = await (await engine.deadLetters.page({}, { first: 0 })).totalCount();
  if (all !== TOTAL) throw new Error(`expected ${TOTAL} dead letters, the index counts ${all}`);
  return {
    publishMs: Math.round(published.ms),
    failMs: Math.round(failed.ms),
    repairIndexMs: Math.round(repaired.ms),
  };
}

/** Each shape of query, {@link QUERIES} times after {@link WARMUP} warm-up runs. */
async function measureQueries(engine: Engine): Promise<Row[]> {
  const { deadLetters } = engine;
  const queueReason = (i: number): DeadLetterFilter => ({
    topic: TOPIC,
    queue: queueName(i % QUEUES),
    reason: REASONS[i % REASONS.length] ?? 'REJECTED',
  });
  const rows: Row[] = [];
  console.log(`measuring ${QUERIES} queries of each kind (after ${WARMUP} warm-up)…`);
  rows.push(
    await measure(
      'first page, queue + reason (50)',
      (i) => deadLetters.page(queueReason(i), { first: 50 }),
      '< 25 ms',
    ),
  );
  rows.push(
    await measure('totalCount, queue + reason', async (i) =>
      (await deadLetters.page(queueReason(i), { first: 0 })).totalCount(),
    ),
  );
  rows.push(
    await measure('page + totalCount, queue + reason', async (i) =>
      (await deadLetters.page(queueReason(i), { first: 50 })).totalCount(),
    ),
  );
  rows.push(await measure('first page, no filter (50)', () => deadLetters.page({}, { first: 50 })));
  let after: string | null = null;
  rows.push(
    await measure('next page, reason (50, walking on)', async () => {
      const page = await deadLetters.page({ reason: 'PROCESSING' }, { first: 50, after });
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    }),
  );
  rows.push(
    await measure('first page, queue + search (50, scans)', (i) =>
      deadLetters.page({ queue: queueName(i % QUEUES), search: 'ord-1' }, { first: 50 }),
    ),
  );
  return rows;
}

/** Three rounds on three reasons (each has at least REPLAY dead letters), so one slow round shows. */
async function measureReplays(engine: Engine): Promise<{ filter: DeadLetterFilter; ms: number }[]> {
  const replays: { filter: DeadLetterFilter; ms: number }[] = [];
  for (const reason of ['REJECTED', 'PROCESSING', 'TIMEOUT'] as const) {
    console.log(`replaying ${REPLAY} dead letters with reason ${reason}…`);
    const filter: DeadLetterFilter = { topic: TOPIC, reason };
    const replay = await timed(() => engine.deadLetters.replayMany(filter, REPLAY));
    if (replay.value.replayed !== REPLAY)
      throw new Error(`replayed ${replay.value.replayed}, expected ${REPLAY}`);
    replays.push({ filter, ms: Math.round(replay.ms) });
  }
  const left = await (await engine.deadLetters.page({}, { first: 0 })).totalCount();
  const expectedLeft = TOTAL - replays.length * REPLAY;
  if (left !== expectedLeft) throw new Error(`expected ${expectedLeft} dead letters left, found ${left}`);
  return replays;
}

function buildResult(
  setup: Awaited<ReturnType<typeof fillDeadLetters>>,
  rows: Row[],
  replays: { filter: DeadLetterFilter; ms: number }[],
  loadAtStart: number[],
) {
  const replayMs = replays.map((replay) => replay.ms);
  return {
    at: new Date().toISOString(),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model ?? 'unknown', node: process.version },
    deadLetters: TOTAL,
    queues: QUEUES,
    queries: QUERIES,
    setup,
    queriesMs: rows,
    replay: {
      count: REPLAY,
      rounds: replays,
      medianMs: percentile(replayMs, 50),
      maxMs: Math.max(...replayMs),
      target: '< 5000 ms',
    },
    /** Other processes share this machine; its load average says how much they disturbed the figures. */
    loadAverage: { start: loadAtStart, end: loadavg() },
  };
}

type Result = ReturnType<typeof buildResult>;

/** Prints the table and writes the JSON to `--out`. */
async function report(result: Result): Promise<void> {
  const { setup, queriesMs: rows, replay, loadAverage } = result;
  console.log(
    `\n${TOTAL} dead letters, ${QUEUES} queues; setup: publish ${setup.publishMs} ms, fail ${setup.failMs} ms, index (repair) ${setup.repairIndexMs} ms\n`,
  );
  console.log('| measure | n | P50 ms | P95 ms | P99 ms | max ms | target |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const row of rows) {
    console.log(
      `| ${row.measure} | ${row.n} | ${fmt(row.p50)} | ${fmt(row.p95)} | ${fmt(row.p99)} | ${fmt(row.max)} | ${row.target ?? ''} |`,
    );
  }
  console.log(
    `| replay ${REPLAY} by filter (reason), 3 rounds | 3 | ${replay.medianMs} | | | ${replay.maxMs} | < 5000 ms |`,
  );
  console.log(`\nreplay rounds (ms): ${replay.rounds.map((round) => round.ms).join(', ')}`);
  console.log(
    `load average: ${loadAverage.start.map((n) => n.toFixed(2)).join(' ')} at start, ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')} at end`,
  );
  await mkdir(join(args.out, '..'), { recursive: true });
  await writeFile(args.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${args.out}`);
}

async function main(): Promise<void> {
  const loadAtStart = loadavg();
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-bench-dl-'));
  const redis = await startRedisServer({ dir, appendOnly: true, appendFsync: 'everysec' });
  const engine = await createEngine({
    redisUrl: redis.url,
    keyPrefix: 'bench',
    runWorkers: false,
    // The benchmark runs its own repair and keeps everything: no timer may interfere with the figures.
    deadLetters: { retentionMs: 0, maintenanceIntervalMs: 24 * 60 * 60 * 1000 },
  });
  try {
    const setup = await fillDeadLetters(engine, redis.url);
    const rows = await measureQueries(engine);
    const replays = await measureReplays(engine);
    await report(buildResult(setup, rows, replays, loadAtStart));
  } finally {
    await engine.close();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
