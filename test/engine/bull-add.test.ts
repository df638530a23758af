import { createIORedisClient, Job, type JobsOptions, Queue } from 'bullmq';
import type { ChainableCommander, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSerialized, type SerializedAdd } from '../../queues/bull-add.js';
import { startTestRedis, type TestRedis, uniquePrefix } from '../helpers/redis.js';

let redis: TestRedis;
let client: Redis;
const queues: Queue[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
  client = redis.client();
});
afterAll(async () => {
  await Promise.allSettled(queues.map((queue) => queue.close()));
  await redis?.stop();
});

async function openQueue(): Promise<Queue> {
  const queue = new Queue('q', { connection: client, prefix: uniquePrefix() });
  queues.push(queue);
  await queue.waitUntilReady();
  return queue;
}

/** The same add, BullMQ's way: a Job object and its addJob, in a transaction as the publisher uses. */
async function addTheBullmqWay(queue: Queue, add: SerializedAdd): Promise<void> {
  const opts: JobsOptions = {
    jobId: add.jobId,
    priority: add.priority,
    attempts: add.attempts,
    backoff: { type: add.backoffType },
    removeOnComplete: true,
    removeOnFail: false,
  };
  if (add.delayMs) opts.delay = add.delayMs;
  const job = new Job(queue, add.name, JSON.parse(add.data.toString('utf8')), opts, add.jobId);
  const transaction = createIORedisClient(client).multi();
  const added = job.addJob(transaction as unknown as Parameters<Job['addJob']>[0]);
  await (transaction as unknown as ChainableCommander).exec();
  await added;
}

async function addOurWay(queue: Queue, add: SerializedAdd): Promise<void> {
  const transaction = createIORedisClient(client).multi() as unknown as ChainableCommander;
  addSerialized(queue, transaction, add);
  const answers = await transaction.exec();
  expect(answers?.every(([error]) => error === null)).toBe(true);
}

/** Everything BullMQ keeps about one job: its hash (opts parsed) and where it sits. */
async function stored(queue: Queue, jobId: string) {
  const hash = await client.hgetall(queue.toKey(jobId));
  const { opts, timestamp, ...fields } = hash;
  const events = await client.xrange(queue.keys.events as string, '-', '+');
  return {
    fields,
    opts: JSON.parse(opts ?? 'null') as unknown,
    timestamp: Number(timestamp),
    state: await queue.getJobState(jobId),
    waiting: await client.lrange(queue.keys.wait as string, 0, -1),
    prioritized: await client.zrange(queue.keys.prioritized as string, 0, -1, 'WITHSCORES'),
    delayed: (await client.zrange(queue.keys.delayed as string, 0, -1)).length,
    eventTypes: events.map(([, entry]) => entry[1]),
  };
}

const text = JSON.stringify({ id: 'm', payload: { a: 1, b: [true, null, 'é'] } });
const data = Buffer.from(text);

const cases: [string, Omit<SerializedAdd, 'jobId' | 'timestamp'>][] = [
  [
    'prioritized (every Switchyard priority)',
    { name: 'message', data, attempts: 5, priority: 10, backoffType: 'switchyard' },
  ],
  ['the highest priority', { name: 'message', data, attempts: 1, priority: 1, backoffType: 'switchyard' }],
  [
    'delayed',
    { name: 'message', data, attempts: 3, priority: 10, delayMs: 60_000, backoffType: 'switchyard' },
  ],
  ['no priority', { name: 'message', data, attempts: 2, priority: 0, backoffType: 'switchyard' }],
];

describe('addSerialized', () => {
  it.each(cases)('should store a %s job exactly as Job.addJob does', async (_, add) => {
    const theirs = await openQueue();
    const ours = await openQueue();
    const jobId = `job-${uniquePrefix()}`;
    const before = Date.now();
    await addTheBullmqWay(theirs, { ...add, jobId, timestamp: before });
    const timestamp = Date.now();
    await addOurWay(ours, { ...add, jobId, timestamp });

    const expected = await stored(theirs, jobId);
    const actual = await stored(ours, jobId);
    expect(actual.timestamp).toBe(timestamp);
    expect(expected.timestamp).toBeGreaterThanOrEqual(before);
    expect({ ...actual, timestamp: 0 }).toEqual({ ...expected, timestamp: 0 });
    expect(actual.fields.data).toBe(text);
    expect(actual.state).toBe(add.delayMs ? 'delayed' : add.priority > 0 ? 'prioritized' : 'waiting');
  });

  it('should come back from a worker fetch as the job that was added', async () => {
    const queue = await openQueue();
    const jobId = `job-${uniquePrefix()}`;
    await addOurWay(queue, {
      jobId,
      name: 'message',
      data,
      timestamp: Date.now(),
      attempts: 4,
      priority: 10,
      backoffType: 'switchyard',
    });
    const job = await queue.getJob(jobId);
    expect(job?.data).toEqual(JSON.parse(text));
    expect(job?.opts).toMatchObject({
      attempts: 4,
      priority: 10,
      backoff: { type: 'switchyard' },
      removeOnComplete: true,
    });
    expect(job?.name).toBe('message');
  });

  it('should neither throw nor change the job when its id is already taken', async () => {
    const queue = await openQueue();
    const add = {
      jobId: `job-${uniquePrefix()}`,
      name: 'message',
      data,
      timestamp: Date.now(),
      attempts: 1,
      priority: 10,
      backoffType: 'switchyard',
    };
    await addOurWay(queue, add);
    const transaction = createIORedisClient(client).multi() as unknown as ChainableCommander;
    addSerialized(queue, transaction, { ...add, data: Buffer.from('{"other":true}') });
    await transaction.exec();
    // BullMQ keeps the first job under an id: the second add changes nothing.
    expect((await queue.getJob(add.jobId))?.data).toEqual(JSON.parse(text));
    expect(await queue.getJobCountByTypes('prioritized')).toBe(1);
  });
});
