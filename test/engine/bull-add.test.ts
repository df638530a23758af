import { createIORedisClient, Job, type JobJson, type JobsOptions, Queue, Worker } from 'bullmq';
import type { ChainableCommander, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSerialized, encodeAdd, JobAdds, type SerializedAdd } from '../../queues/redis/bull-add.js';
import { ADD_JOBS_KEYS, ADD_SCRIPT_KEYS, encodeAdds } from '../../queues/redis/commands/add-jobs.js';
import { type Commands, defineCommands, queueCommand } from '../../queues/redis/commands/index.js';
import { bullKeysOf } from '../../queues/redis/keys.js';
import { PublishCommit } from '../../queues/redis/publish-commit.js';
import { startTestRedis, type TestRedis, uniquePrefix } from '../helpers/redis.js';
import { serializedAdd } from '../helpers/serialized-add.js';

let redis: TestRedis;
let client: Redis;
let commands: Commands;
const queues: Queue[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
  client = redis.client();
  commands = defineCommands(client);
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
  // The options a message's job carries: no jobId (the Job's id is passed on its own, as Job.addJob
  // takes it) and no removeOnFail (BullMQ's default keeps failed jobs).
  const opts: JobsOptions = {
    priority: add.priority,
    attempts: add.attempts,
    backoff: { type: add.backoffType },
    removeOnComplete: true,
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
    // Exactly these: no jobId, no removeOnFail (the job's key and BullMQ's default say the same).
    expect(JSON.parse((await client.hget(queue.toKey(jobId), 'opts')) ?? 'null')).toEqual({
      attempts: 4,
      priority: 10,
      backoff: { type: 'switchyard' },
      removeOnComplete: true,
    });
  });

  it('should keep a finally failed job whether its options say removeOnFail: false (jobs stored before) or nothing', async () => {
    const queue = await openQueue();
    const add = (jobId: string) => ({ ...serializedAdd(jobId, 10, data), attempts: 1 });
    await addOurWay(queue, add('now'));
    // A job as the publisher stored it before: its options with jobId and removeOnFail: false.
    const before = new Job(
      queue,
      'message',
      JSON.parse(text),
      {
        attempts: 1,
        jobId: 'before',
        priority: 10,
        backoff: { type: 'switchyard' },
        removeOnComplete: true,
        removeOnFail: false,
      },
      'before',
    );
    await before.addJob(createIORedisClient(client) as unknown as Parameters<Job['addJob']>[0]);
    const worker = new Worker(
      queue.name,
      async () => {
        throw new Error('refused');
      },
      { connection: redis.client(), prefix: queue.opts.prefix, autorun: false },
    );
    try {
      const failed = new Promise<void>((resolve) => {
        let count = 0;
        worker.on('failed', () => {
          if (++count === 2) resolve();
        });
      });
      void worker.run();
      await failed;
    } finally {
      await worker.close();
    }
    expect(await queue.getJobState('now')).toBe('failed');
    expect(await queue.getJobState('before')).toBe('failed');
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

describe('JobAdds', () => {
  it("should take each add script's keys in BullMQ's own order", async () => {
    const queue = await openQueue();
    type ArgsOf = (job: JobJson, encodedOpts: string, args: unknown[]) => string[];
    const scripts = queue.scripts as unknown as Record<string, ArgsOf>;
    const job = { data: 'data' } as JobJson;
    const bullmqKeys = (method: string) => scripts[method]?.call(queue.scripts, job, 'opts', []).slice(0, -3);
    const ours = (names: readonly string[]) => names.map((name) => queue.keys[name]);
    expect(bullmqKeys('addStandardJobArgs')).toEqual(ours(ADD_SCRIPT_KEYS.standard));
    expect(bullmqKeys('addPrioritizedJobArgs')).toEqual(ours(ADD_SCRIPT_KEYS.prioritized));
    expect(bullmqKeys('addDelayedJobArgs')).toEqual(ours(ADD_SCRIPT_KEYS.delayed));
    expect(ADD_JOBS_KEYS).toHaveLength(11);
  });

  it('should add many jobs of every kind in one command per queue, each as Job.addJob does, in order', async () => {
    const [theirsA, theirsB, oursA, oursB] = await Promise.all([1, 2, 3, 4].map(() => openQueue()));
    const adds = cases.flatMap(([, add], index) =>
      [0, 1, 2].map((copy) => ({ ...add, jobId: `job-${index}-${copy}`, timestamp: Date.now() + index })),
    );
    for (const add of adds) {
      await addTheBullmqWay(theirsA as Queue, add);
      await addTheBullmqWay(theirsB as Queue, add);
    }
    const batch = new JobAdds();
    adds.forEach((add, index) => {
      batch.add(oursA as Queue, add);
      if (index % 2 === 1) batch.add(oursB as Queue, add);
    });
    const transaction = createIORedisClient(client).multi() as unknown as ChainableCommander;
    batch.write(transaction);
    expect(transaction.length).toBe(3); // MULTI and one command per queue
    const answers = await transaction.exec();
    expect(answers).toEqual([
      [null, adds.length],
      [null, adds.length / 2],
    ]);

    for (const add of adds) {
      const expected = await stored(theirsA as Queue, add.jobId);
      const actual = await stored(oursA as Queue, add.jobId);
      expect({ ...actual, timestamp: 0 }).toEqual({ ...expected, timestamp: 0 });
      expect(actual.timestamp).toBe(add.timestamp);
    }
    // Where the jobs sit, in what order, and the events they left, over the whole queue.
    const layout = async (queue: Queue) => ({
      waiting: await client.lrange(queue.keys.wait as string, 0, -1),
      prioritized: await client.zrange(queue.keys.prioritized as string, 0, -1, 'WITHSCORES'),
      delayed: await client.zrange(queue.keys.delayed as string, 0, -1),
      // A delayed event carries the time it is due, which follows the job's own timestamp.
      events: (await client.xrange(queue.keys.events as string, '-', '+')).map(([, entry]) =>
        entry.join(' ').replace(/ delay \d+$/, ' delay (due)'),
      ),
    });
    expect(await layout(oursA as Queue)).toEqual(await layout(theirsA as Queue));
    const onlyOdd = await openQueue();
    for (const add of adds.filter((_, index) => index % 2 === 1)) await addTheBullmqWay(onlyOdd, add);
    expect(await layout(oursB as Queue)).toEqual(await layout(onlyOdd));
  });

  it("should answer an error for a queue whose add fails, keep the adds before it and leave other queues' alone", async () => {
    const [broken, fine] = await Promise.all([openQueue(), openQueue()]);
    const add = (jobId: string, priority: number) => serializedAdd(jobId, priority, data);
    const transaction = createIORedisClient(client).multi() as unknown as ChainableCommander;
    const batch = new JobAdds();
    batch.add(broken, add('earlier', 10));
    batch.add(fine, add('other', 10));
    batch.write(transaction);
    // The priority counter is a string now: the next prioritized add's INCR fails mid-command.
    transaction.set(broken.keys.pc as string, 'not a number');
    batch.add(broken, add('before', 0));
    batch.add(broken, add('failing', 10));
    batch.add(broken, add('after', 0));
    batch.add(fine, add('unaffected', 10));
    batch.write(transaction);
    const answers = (await transaction.exec()) ?? [];
    expect(answers.slice(0, 3)).toEqual([
      [null, 1],
      [null, 1],
      [null, 'OK'],
    ]);
    expect(String(answers[3]?.[0])).toMatch(/not an integer/);
    expect(answers[4]).toEqual([null, 1]);
    expect(await client.lrange(broken.keys.wait as string, 0, -1)).toEqual(['before']);
    expect(await broken.getJobState('earlier')).toBe('prioritized');
    expect(await broken.getJobState('after')).toBe('unknown');
    expect(await fine.getJobCountByTypes('prioritized')).toBe(2);
  });
});

describe('add-jobs', () => {
  /**
   * Runs add-jobs with `adds` as its argument, the job keys of `jobIds` and a job data for each of
   * them (or `datas`); answers its error, if any.
   */
  async function run(
    queue: Queue,
    adds: Buffer,
    jobIds: string[] = [],
    datas: Buffer[] = jobIds.map(() => data),
  ): Promise<string | null> {
    const transaction = client.multi();
    const keys = ADD_JOBS_KEYS.map((name) => queue.keys[name] as string);
    const jobKeys = jobIds.map((id) => bullKeysOf(queue.keys[''] as string).job(id));
    queueCommand(transaction, 'add-jobs-n', [...keys, ...jobKeys], [adds, ...datas]);
    const [[error] = [null]] = (await transaction.exec()) ?? [];
    return error ? String(error) : null;
  }

  /** encodeAdds' head for `queue` with one set of options: its prefix, the options' count and bytes. */
  const headOf = (queue: Queue) => {
    const withOne = encodeAdds(queue.keys[''] as string, [encodeAdd(serializedAdd('x', 0, data))]);
    // The head ends where the add's 8-byte header starts: before its id ('x'), timestamp and name.
    return withOne.subarray(0, withOne.length - 8 - 1 - String(Date.now()).length - 'message'.length);
  };
  /** An add's header: kind, options' number, then the lengths of its id, timestamp and name. */
  const header = (kind: string, opts: number, id: number, timestamp: number, name: number) => {
    const bytes = Buffer.alloc(8);
    bytes.write(kind, 0, 'latin1');
    bytes.writeUInt16BE(opts, 1);
    bytes.writeUInt16BE(id, 3);
    bytes.writeUInt8(timestamp, 5);
    bytes.writeUInt16BE(name, 6);
    return bytes;
  };

  it.each([
    ['an unknown kind', header('x', 0, 0, 0, 0)],
    ['a cut header', header('s', 0, 0, 0, 0).subarray(0, 7)],
    ['parts longer than the argument', Buffer.concat([header('p', 0, 2, 13, 1000), Buffer.from('abcdef')])],
    ['options it does not have', header('s', 1, 0, 0, 0)],
  ])('should refuse %s and add nothing', async (_, add) => {
    const queue = await openQueue();
    const head = headOf(queue);
    expect(await run(queue, Buffer.concat([head, add]))).toMatch(
      new RegExp(`add-jobs: malformed add at byte ${head.length + 1}$`),
    );
    expect(await client.keys(`${queue.keys['']}*`)).toEqual([queue.keys.meta]);
  });

  it.each([
    ['a cut prefix', (head: Buffer) => head.subarray(0, 8)],
    ['cut options', (head: Buffer) => head.subarray(0, head.length - 2)],
    [
      'options that are no msgpack map',
      (head: Buffer) => Buffer.concat([head.subarray(0, head.length - 1), Buffer.from([0xc1])]),
    ],
  ])('should refuse a head with %s and add nothing', async (_, cut) => {
    const queue = await openQueue();
    expect(await run(queue, cut(headOf(queue)))).toMatch(/add-jobs: malformed adds head$/);
    expect(await client.keys(`${queue.keys['']}*`)).toEqual([queue.keys.meta]);
  });

  it('should keep the adds before a malformed one, and name the byte it starts at', async () => {
    const queue = await openQueue();
    const valid = encodeAdds(queue.keys[''] as string, [encodeAdd(serializedAdd('first', 0, data))]);
    expect(await run(queue, Buffer.concat([valid, header('s', 0, 5, 5, 5)]), ['first'])).toMatch(
      new RegExp(`malformed add at byte ${valid.length + 1}$`),
    );
    expect((await queue.getWaiting()).map((job) => job.id)).toEqual(['first']);
  });

  it('should refuse an add without its data argument, keeping the adds before it', async () => {
    const queue = await openQueue();
    const adds = encodeAdds(queue.keys[''] as string, [
      encodeAdd(serializedAdd('first', 0, data)),
      encodeAdd(serializedAdd('second', 0, data)),
    ]);
    expect(await run(queue, adds, ['first', 'second'], [data])).toMatch(/add-jobs: no data for add 2$/);
    expect((await queue.getWaiting()).map((job) => job.id)).toEqual(['first']);
    expect(await client.exists(queue.toKey('second'))).toBe(0);
  });

  it('should store each add with its own data argument, in order', async () => {
    const queue = await openQueue();
    const texts = ['{"n":1}', '{"n":2}', '{"n":3}'];
    const adds = encodeAdds(
      queue.keys[''] as string,
      texts.map((_, n) => encodeAdd(serializedAdd(`j${n}`, 0, data))),
    );
    const datas = texts.map((text) => Buffer.from(text));
    expect(await run(queue, adds, ['j0', 'j1', 'j2'], datas)).toBeNull();
    for (const [n, text] of texts.entries())
      expect(await client.hget(queue.toKey(`j${n}`), 'data')).toBe(text);
  });

  it('should refuse an add whose job key is not in KEYS, keeping the adds before it', async () => {
    const queue = await openQueue();
    const adds = encodeAdds(queue.keys[''] as string, [
      encodeAdd(serializedAdd('first', 0, data)),
      encodeAdd(serializedAdd('second', 0, data)),
    ]);
    expect(await run(queue, adds, ['first'], [data, data])).toMatch(/add-jobs: no job key for add 2$/);
    expect((await queue.getWaiting()).map((job) => job.id)).toEqual(['first']);
    expect(await client.exists(queue.toKey('second'))).toBe(0);
  });
});

describe('publish-commit', () => {
  // The publish path's own call, not add-jobs: the jobs it stores must be BullMQ's too.
  it('should store the jobs of every kind as Job.addJob does, in order, for several publishes at once', async () => {
    const [theirs, ours] = await Promise.all([openQueue(), openQueue()]);
    const adds = cases.flatMap(([, add], index) =>
      [0, 1].map((copy) => ({ ...add, jobId: `job-${index}-${copy}`, timestamp: Date.now() + index })),
    );
    for (const add of adds) await addTheBullmqWay(theirs, add);
    const commit = new PublishCommit();
    adds.forEach((add, index) => {
      commit.owner = index;
      commit.add(ours, add);
    });
    const refusals = await commit.run(
      (keys, args) => commands.run('publish-commit-n', keys, args),
      adds.length,
    );
    expect(refusals).toEqual(adds.map(() => null));

    for (const add of adds) {
      const expected = await stored(theirs, add.jobId);
      const actual = await stored(ours, add.jobId);
      expect({ ...actual, timestamp: 0 }).toEqual({ ...expected, timestamp: 0 });
    }
    const layout = async (queue: Queue) => ({
      waiting: await client.lrange(queue.keys.wait as string, 0, -1),
      prioritized: await client.zrange(queue.keys.prioritized as string, 0, -1, 'WITHSCORES'),
      delayed: await client.zrange(queue.keys.delayed as string, 0, -1),
    });
    expect(await layout(ours)).toEqual(await layout(theirs));
  });

  it("should store each job's own data when the adds of several owners go to several queues", async () => {
    const [first, second] = await Promise.all([openQueue(), openQueue()]);
    const commit = new PublishCommit();
    const expected: [Queue, string, string][] = [];
    for (const owner of [0, 1, 2]) {
      commit.owner = owner;
      // Each owner adds to both queues, in a different order each time.
      for (const queue of owner % 2 === 0 ? [first, second] : [second, first]) {
        const jobId = `o${owner}-${queue === first ? 'first' : 'second'}`;
        const text = JSON.stringify({ owner, queue: jobId });
        commit.add(queue, serializedAdd(jobId, 10, Buffer.from(text)));
        expected.push([queue, jobId, text]);
      }
    }
    const refusals = await commit.run((keys, args) => commands.run('publish-commit-n', keys, args), 3);
    expect(refusals).toEqual([null, null, null]);
    for (const [queue, jobId, text] of expected) {
      expect(await client.hget(queue.toKey(jobId), 'data')).toBe(text);
    }
  });
});
