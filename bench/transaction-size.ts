/**
 * What one BullMQ add costs Redis, by the size of the transaction it goes in: the group commit's
 * MULTI … EXEC with one `add-jobs` command per queue (and per MAX_ADDS_PER_COMMAND adds), for
 * transactions of 1 to 1,600 adds, against raw BullMQ's `addBulk` of 100 with the same jobs. This is
 * the measurement behind MAX_TRANSACTION_ADDS (queues/redis/group-commit.ts). Two more raw rows add the
 * jobs of scenario 2's raw side (a 1 KiB payload, no priority) with and without a priority, which
 * tells what Redis pays for what a Switchyard job carries beyond them.
 *
 *   npm run bench:transaction-size [-- --adds 32000 --in-flight 16]
 *
 * Redis runs with the embedded default's persistence (AOF, everysec) on a free loopback port. Every job
 * is the same: ~1.45 KB of data (a 1 KiB payload in a Switchyard envelope), a UUID id, prioritized, as a
 * Switchyard publish stores it. Redis CPU is its process's user + system time (/proc, as the main
 * bench reads it) over the run, per add. Prints a table and writes bench/results/transaction-size.json.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  createGroupCommit,
  defineCommands,
  MAX_ADDS_PER_COMMAND,
  MAX_TRANSACTION_ADDS,
  type SerializedAdd,
} from '../queues/redis/index.js';
import { startRedisServer } from '../server/redis-process.js';
import { DEFAULT_RAW_POLICY, rawJobOptions } from './load/bull-load.js';
import { closedLoop } from './load/loops.js';
import { makePayload } from './payload.js';
import { cpuMeter } from './proc-stats.js';
import { assertComplete } from './scenario.js';

const { values: args } = parseArgs({
  options: {
    adds: { type: 'string', default: '32000' },
    'in-flight': { type: 'string', default: '16' },
    out: { type: 'string', default: 'bench/results/transaction-size.json' },
  },
});
const ADDS = Number(args.adds);
const IN_FLIGHT = Number(args['in-flight']);
const SIZES = [1, 16, MAX_TRANSACTION_ADDS, 256, 1600] as const;
const RAW_BATCH = 100;
/** A row that takes longer than this fails the bench rather than running on. */
const RUN_TIMEOUT_MS = 5 * 60_000;

const DATA = Buffer.from(JSON.stringify({ envelope: 'x'.repeat(420), payload: 'y'.repeat(1000) }));

function add(): SerializedAdd {
  return {
    jobId: randomUUID(),
    name: 'message',
    data: DATA,
    timestamp: Date.now(),
    attempts: 5,
    priority: 10,
    backoffType: 'switchyard',
  };
}

/** Runs `count` operations, `IN_FLIGHT` at a time, bounded in time too; fails on any error. */
async function inFlight(what: string, count: number, op: () => Promise<unknown>): Promise<void> {
  const result = await closedLoop({ count, concurrency: IN_FLIGHT, timeoutMs: RUN_TIMEOUT_MS, op });
  assertComplete(what, result);
}

interface Row {
  variant: string;
  transactionAdds: number;
  redisCpuUsPerAdd: number;
  wallUsPerAdd: number;
}

const dir = await mkdtemp(join(tmpdir(), 'switchyard-transaction-size-'));
const server = await startRedisServer({ dir, appendOnly: true, appendFsync: 'everysec' });
const client = new Redis(server.url, { maxRetriesPerRequest: null });
const commands = defineCommands(client);

async function measure(
  variant: string,
  transactionAdds: number,
  run: (what: string, queue: Queue) => Promise<void>,
) {
  const queue = new Queue(`q-${variant}-${transactionAdds}`, { connection: client });
  await queue.waitUntilReady();
  const cpu = cpuMeter({ redis: server.pid });
  const started = performance.now();
  await run(`${variant} (${transactionAdds} per transaction)`, queue);
  const wallMs = performance.now() - started;
  const redisCpu = cpu().redis ?? Number.NaN;
  if ((await queue.getJobCountByTypes('prioritized', 'wait')) !== ADDS)
    throw new Error(`${variant}: adds missing`);
  await queue.obliterate({ force: true });
  await queue.close();
  const row: Row = {
    variant,
    transactionAdds,
    redisCpuUsPerAdd: (redisCpu * 1e6) / ADDS,
    wallUsPerAdd: (wallMs * 1e3) / ADDS,
  };
  process.stderr.write(`  ${JSON.stringify(row)}\n`);
  return row;
}

const rows: Row[] = [];
try {
  // A warm-up, so the first variant does not pay for loading scripts and growing buffers.
  await measure('warm-up', RAW_BATCH, (what, queue) =>
    inFlight(what, ADDS / RAW_BATCH, () =>
      queue.addBulk(
        Array.from({ length: RAW_BATCH }, () => ({ name: 'message', data: {}, opts: { priority: 10 } })),
      ),
    ),
  );
  // Scenario 2's raw jobs, and the same prioritized as every Switchyard job is.
  for (const priority of [undefined, 10]) {
    const opts = { ...rawJobOptions(DEFAULT_RAW_POLICY), priority };
    rows.push(
      await measure(
        `raw BullMQ addBulk, 1 KiB payload${priority ? ', prioritized' : ''}`,
        RAW_BATCH,
        (what, queue) =>
          inFlight(what, ADDS / RAW_BATCH, () =>
            queue.addBulk(
              Array.from({ length: RAW_BATCH }, (_, seq) => ({
                name: 'message',
                data: makePayload(seq),
                opts,
              })),
            ),
          ),
      ),
    );
  }
  rows.push(
    await measure("raw BullMQ addBulk, Switchyard's job", RAW_BATCH, (what, queue) =>
      inFlight(what, ADDS / RAW_BATCH, () =>
        queue.addBulk(
          Array.from({ length: RAW_BATCH }, () => {
            const { jobId, priority, attempts } = add();
            return {
              name: 'message',
              data: JSON.parse(DATA.toString('utf8')) as unknown,
              opts: { jobId, priority, attempts, backoff: { type: 'exponential', delay: 1000 } },
            };
          }),
        ),
      ),
    ),
  );
  for (const size of SIZES) {
    const commits = createGroupCommit({
      run: (keys, args) => commands.run('publish-commit-n', keys, args),
      // One caller per call: the sizes are exact.
      maxWeight: 1,
    });
    rows.push(
      await measure('group commit', size, (what, queue) =>
        inFlight(what, ADDS / size, () =>
          commits.commit((commit) => {
            for (let n = 0; n < size; n++) commit.add(queue, add());
          }, size),
        ),
      ),
    );
  }
} finally {
  client.disconnect();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}

const lines = [
  `Redis CPU per BullMQ add by transaction size: ${ADDS} adds per row, ${IN_FLIGHT} transactions in flight, AOF everysec; add-jobs commands of at most ${MAX_ADDS_PER_COMMAND} adds.`,
  '',
  '| Variant | Adds per transaction | Redis CPU per add (µs) | Wall time per add (µs) |',
  '|---|---:|---:|---:|',
  ...rows.map(
    (row) =>
      `| ${row.variant} | ${row.transactionAdds} | ${row.redisCpuUsPerAdd.toFixed(1)} | ${row.wallUsPerAdd.toFixed(1)} |`,
  ),
];
process.stdout.write(`${lines.join('\n')}\n`);
await mkdir('bench/results', { recursive: true });
await writeFile(
  args.out,
  `${JSON.stringify(
    {
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
      adds: ADDS,
      inFlight: IN_FLIGHT,
      maxAddsPerCommand: MAX_ADDS_PER_COMMAND,
      rows,
    },
    null,
    2,
  )}\n`,
);
