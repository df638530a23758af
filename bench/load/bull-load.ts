/** The raw BullMQ side of the load: Queue.add / addBulk / manual fetching, as a user without a gateway does. */
import { randomUUID } from 'node:crypto';
import { type Job, type JobsOptions, Queue, Worker } from 'bullmq';
import type { RedisClient } from '../../queues/redis/index.js';
import { makePayload } from '../payload.js';
import { benchRedis } from '../redis-target.js';
import { OPEN_LOOP_DRAIN_MS, type OpenLoadArgs, openLoopBacklog, type PullResult } from './graphql-load.js';
import { closedLoop, type LoopResult, type OpenLoopResult, openLoop } from './loops.js';

/** The retry policy of a raw job; the default mirrors a Switchyard queue's default policy. */
export interface RawPolicy {
  attempts: number;
  backoff: { type: 'fixed' | 'exponential'; delay: number };
}

export const DEFAULT_RAW_POLICY: RawPolicy = { attempts: 5, backoff: { type: 'exponential', delay: 1000 } };

/** Where raw queues live: the bench Redis, BullMQ's `prefix`, and the queue names. */
export interface RawTarget {
  redisUrl: string;
  prefix: string;
}

/** What a user would pass to Queue.add: the retry policy, and no completed jobs piling up. */
export const rawJobOptions = (policy: RawPolicy): JobsOptions => ({
  attempts: policy.attempts,
  backoff: policy.backoff,
  removeOnComplete: true,
  removeOnFail: false,
});

const JOB_NAME = 'message';
const connections = new Map<string, RedisClient>();
const queues = new Map<string, Queue>();
let seq = 0;

/** One connection per Redis shared by every Queue, as BullMQ recommends for producers. */
function connection(redisUrl: string): RedisClient {
  let found = connections.get(redisUrl);
  if (!found) {
    found = benchRedis(redisUrl);
    connections.set(redisUrl, found);
  }
  return found;
}

const queueId = (target: RawTarget, name: string) => `${target.redisUrl} ${target.prefix} ${name}`;

/** The Queue of one raw queue, made once and shared by every loop of this process. */
export function queue(target: RawTarget, name: string): Queue {
  const id = queueId(target, name);
  let found = queues.get(id);
  if (!found) {
    found = new Queue(name, { connection: connection(target.redisUrl), prefix: target.prefix });
    queues.set(id, found);
  }
  return found;
}

export interface AddArgs extends RawTarget {
  /** One message is added to every queue named here (one for ingest, ten for fan-out). */
  queues: string[];
  count: number;
  concurrency: number;
  timeoutMs: number;
  policy?: RawPolicy;
}

/** `Queue.add`, `concurrency` in flight; with several queues each message goes to all of them at once. */
export function addClosed(args: AddArgs): Promise<LoopResult> {
  const targets = args.queues.map((name) => queue(args, name));
  const opts = rawJobOptions(args.policy ?? DEFAULT_RAW_POLICY);
  return closedLoop({
    ...args,
    op: () => {
      const payload = makePayload(seq++);
      return Promise.all(targets.map((target) => target.add(JOB_NAME, payload, opts)));
    },
  });
}

export interface AddBulkArgs extends RawTarget {
  queue: string;
  batches: number;
  batchSize: number;
  concurrency: number;
  timeoutMs: number;
}

/** `Queue.addBulk` of `batchSize`, `concurrency` in flight; `done` counts batches. */
export function addBulkClosed(args: AddBulkArgs): Promise<LoopResult> {
  const target = queue(args, args.queue);
  const opts = rawJobOptions(DEFAULT_RAW_POLICY);
  return closedLoop({
    count: args.batches,
    concurrency: args.concurrency,
    timeoutMs: args.timeoutMs,
    op: () =>
      target.addBulk(
        Array.from({ length: args.batchSize }, () => ({ name: JOB_NAME, data: makePayload(seq++), opts })),
      ),
  });
}

export interface AddOpenArgs extends RawTarget, OpenLoadArgs {
  queue: string;
}

/** `Queue.add` at a fixed rate, the send time in each payload. */
export function addOpen(args: AddOpenArgs): Promise<OpenLoopResult> {
  const target = queue(args, args.queue);
  const opts = rawJobOptions(DEFAULT_RAW_POLICY);
  return openLoop({
    ratePerSecond: args.ratePerSecond,
    durationMs: args.durationMs,
    maxInFlight: openLoopBacklog(args.ratePerSecond),
    drainTimeoutMs: OPEN_LOOP_DRAIN_MS,
    op: (_, intendedUs) => target.add(JOB_NAME, makePayload(seq++, intendedUs, args.warm), opts),
  });
}

export interface PullRawArgs extends RawTarget {
  queue: string;
  loops: number;
  max: number;
  expected: number;
  timeoutMs: number;
}

/**
 * Manual fetching shaped like the Switchyard client's loop, so the two do the same work: take up to
 * `max` jobs with `getNextJob` (a fresh token each, as Switchyard does), then complete them all at once.
 */
export async function pullRaw(args: PullRawArgs): Promise<PullResult> {
  const worker = new Worker(args.queue, null, {
    connection: connection(args.redisUrl),
    prefix: args.prefix,
  });
  worker.on('error', () => {});
  const started = performance.now();
  const deadline = started + args.timeoutMs;
  let acked = 0;
  const loop = async () => {
    while (acked < args.expected && performance.now() < deadline) {
      const taken: { job: Job; token: string }[] = [];
      while (taken.length < args.max) {
        const token = randomUUID();
        const job = await worker.getNextJob(token, { block: false });
        if (!job) break;
        taken.push({ job, token });
      }
      if (taken.length === 0) return;
      await Promise.all(taken.map(({ job, token }) => job.moveToCompleted(null, token, false)));
      acked += taken.length;
    }
  };
  try {
    await Promise.all(Array.from({ length: args.loops }, loop));
  } finally {
    await worker.close();
  }
  return { acked, elapsedMs: performance.now() - started, cutShort: acked < args.expected };
}

/** Removes a raw queue with every job in it, so the next round starts from nothing. */
export async function obliterate(args: RawTarget & { queue: string }): Promise<void> {
  const target = queue(args, args.queue);
  queues.delete(queueId(args, args.queue));
  try {
    await target.obliterate({ force: true });
  } finally {
    await target.close();
  }
}

/** Closes every Queue and connection this process opened. */
export async function closeBull(): Promise<void> {
  const all = [...queues.values()];
  queues.clear();
  await Promise.allSettled(all.map((open) => open.close()));
  for (const redis of connections.values()) redis.disconnect();
  connections.clear();
}
