/**
 * What a user without a gateway runs to deliver webhooks: BullMQ Workers whose processor POSTs the
 * job's data to the receiver, in a process of its own (the counterpart of the gateway's workers).
 */
import { type Job, Worker } from 'bullmq';
import type { RedisClient } from '../queues/redis/index.js';
import type { RawTarget } from './load/bull-load.js';
import { benchRedis } from './redis-target.js';
import { serveRpc } from './rpc.js';

export interface StartWorkersArgs extends RawTarget {
  queues: string[];
  url: string;
  /** Jobs in flight per queue. */
  concurrency: number;
  /** Return the receiver's JSON answer as the job's return value (request-reply, scenario 9). @default false */
  reply?: boolean;
}

/** The same budget a Switchyard webhook gets by default (its queue's ackTimeoutMs). */
const REQUEST_TIMEOUT_MS = 30_000;

let workers: Worker[] = [];
let connection: RedisClient | null = null;

async function post(url: string, job: Job, reply: boolean): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(job.data),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  // Read to the end so the socket goes back to undici's pool.
  const body = await response.arrayBuffer();
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return reply ? JSON.parse(Buffer.from(body).toString('utf8')) : undefined;
}

async function stopWorkers(): Promise<void> {
  const closing = workers;
  workers = [];
  await Promise.allSettled(closing.map((worker) => worker.close()));
  connection?.disconnect();
  connection = null;
}

const api = {
  async startWorkers(args: StartWorkersArgs): Promise<void> {
    await stopWorkers();
    connection = benchRedis(args.redisUrl);
    const shared = connection;
    workers = args.queues.map((name) => {
      const worker = new Worker(name, (job) => post(args.url, job, args.reply ?? false), {
        connection: shared,
        prefix: args.prefix,
        concurrency: args.concurrency,
      });
      worker.on('error', (error) => console.error(`raw worker ${name}:`, error.message));
      return worker;
    });
    await Promise.all(workers.map((worker) => worker.waitUntilReady()));
  },
  stopWorkers,
};
export type RawWorkerApi = typeof api;

serveRpc(api, stopWorkers);
