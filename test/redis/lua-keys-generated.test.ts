import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobAdds } from '../../queues/redis/bull-add.js';
import {
  type Commands,
  createKeys,
  createOrdering,
  defineCommands,
  type Keys,
  PARK_MS,
} from '../../queues/redis/index.js';
import { PublishCommit } from '../../queues/redis/publish-commit.js';
import { startTestRedis, type TestRedis, uniquePrefix } from '../helpers/redis.js';
import { serializedAdd } from '../helpers/serialized-add.js';

/**
 * "Lua scripts receive their keys in KEYS" for the scripts assembled in TypeScript (add-jobs,
 * publish-commit, ordering-enqueue, ordering-advance): they embed BullMQ's own scripts, whose unused
 * branches (parents, deduplication) build keys, so a static read cannot tell what they touch. This
 * runs each with representative arguments under MONITOR, which shows every command a script runs,
 * and checks that each key those commands name was among the KEYS of the script's call.
 */
let redis: TestRedis;
let client: Redis;
let commands: Commands;
let monitor: Redis;
const queues: Queue[] = [];
/** Every command MONITOR has shown: its arguments and whether a script ran it. */
const seen: { args: string[]; lua: boolean }[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  client = redis.client();
  commands = defineCommands(client);
  monitor = await redis.client().monitor();
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    seen.push({ args, lua: source === 'lua' });
  });
});
afterAll(async () => {
  monitor?.disconnect();
  await Promise.all(queues.map((queue) => queue.close()));
  await redis?.stop();
});

/** Commands that name no key; PUBLISH names a channel. */
const KEYLESS = new Set(['time', 'ping', 'publish']);
/** Commands whose every argument is a key. */
const ALL_KEYS = new Set(['del', 'unlink', 'exists', 'touch', 'mget']);

/** Waits until MONITOR has shown every command sent so far; answers how many it has shown. */
async function shown(): Promise<number> {
  const marker = `shown-${Math.random()}`;
  await client.echo(marker);
  for (let wait = 0; wait < 500; wait++) {
    const at = seen.findLastIndex(({ args }) => args[1] === marker);
    if (at >= 0) return at + 1;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('MONITOR never showed the marker');
}

/**
 * Runs `work` and answers, per key a script touched outside its call's KEYS, `<command> <key>`.
 * A script's commands come right after its EVALSHA in MONITOR's stream (a script runs alone).
 */
async function keysOutsideKeys(work: () => Promise<unknown>): Promise<string[]> {
  const from = await shown();
  await work();
  const to = await shown();
  const problems: string[] = [];
  let callKeys: Set<string> | null = null;
  let scripts = 0;
  let touched = 0;
  for (const { args, lua } of seen.slice(from, to)) {
    const [command = '', ...rest] = args.map(String);
    const name = command.toLowerCase();
    if (!lua) {
      if (name === 'evalsha' || name === 'eval') {
        scripts++;
        callKeys = new Set(rest.slice(2, 2 + Number(rest[1])));
      }
      continue;
    }
    touched++;
    if (KEYLESS.has(name)) continue;
    for (const key of ALL_KEYS.has(name) ? rest : rest.slice(0, 1)) {
      if (!callKeys?.has(key)) problems.push(`${name} ${key}`);
    }
  }
  if (scripts === 0 || touched === 0) throw new Error('MONITOR showed no script, or none of its commands');
  return problems;
}

async function openQueue(keys: Keys, name = 'q'): Promise<Queue> {
  const queue = new Queue(name, { connection: client, prefix: keys.bullPrefix('t') });
  queues.push(queue);
  return queue;
}

/** One add of each kind BullMQ's add scripts have: standard, prioritized, delayed. */
const everyKind = (id: string) => [
  serializedAdd(`${id}-s`, 0),
  serializedAdd(`${id}-p`, 5),
  { ...serializedAdd(`${id}-d`, 0), delayMs: 60_000 },
];

describe('Lua keys of the scripts built in TypeScript', () => {
  it('should have add-jobs touch only its KEYS, for every kind of add and for a job that exists already', async () => {
    const queue = await openQueue(createKeys(uniquePrefix()));
    const problems = await keysOutsideKeys(async () => {
      const adds = new JobAdds();
      for (const add of [...everyKind('a'), serializedAdd('a-s', 0)]) adds.add(queue, add);
      const transaction = client.multi();
      adds.write(transaction);
      await transaction.exec();
    });
    expect(problems).toEqual([]);
    expect(await queue.getJobCounts('wait', 'prioritized', 'delayed')).toEqual({
      wait: 1,
      prioritized: 1,
      delayed: 1,
    });
  });

  it('should have publish-commit touch only its KEYS, with every kind of write, and when sent again', async () => {
    const keys = createKeys(uniquePrefix());
    const [a, b] = await Promise.all([openQueue(keys, 'a'), openQueue(keys, 'b')]);
    const commit = new PublishCommit();
    everyKind('m').forEach((add, owner) => {
      commit.owner = owner;
      commit.routedAt(keys.topicRouting('t'), 't', '0');
      commit.add(a, add);
      commit.add(b, add);
      commit.appliedIf(keys.idempotency('t', add.jobId), add.jobId);
      commit.set(keys.idempotency('t', add.jobId), add.jobId, 60_000);
      commit.hincrby(keys.topicStats('t'), 'published', 1);
      // maxMessages 1: the second and third history writes trim, and drop index fields.
      const x = commit.history(
        { key: keys.topicHistory('t'), ids: keys.topicHistoryIds('t'), messageId: add.jobId },
        Buffer.from(`{"id":"${add.jobId}"}`),
        1,
        60_000,
      );
      commit.publishWithCursor(x, keys.live.messages('t'), '{"id":"m"}');
      commit.publish(keys.live.events('t'), '{}');
      commit.trail(keys.trail('t', add.jobId), null, `h-${owner}`, `{"hash":"h-${owner}"}`, 60_000);
    });
    const run = () => commit.run((callKeys, args) => commands.run('publish-commit-n', callKeys, args), 3);
    expect(await keysOutsideKeys(run)).toEqual([]);
    // Sent again, as ioredis does when the answer was lost: every owner is found applied.
    expect(await keysOutsideKeys(run)).toEqual([]);
    expect(await b.getJobCounts('wait', 'prioritized', 'delayed')).toEqual({
      wait: 1,
      prioritized: 1,
      delayed: 1,
    });
  });

  it('should have history-trim touch only its KEYS, trimming entries and their index fields', async () => {
    const keys = createKeys(uniquePrefix());
    const [key, ids] = [keys.topicHistory('t'), keys.topicHistoryIds('t')];
    for (const id of ['old-1', 'old-2']) {
      const entry = await client.xadd(key, '1000-*', 'm', `{"id":"${id}"}`);
      await client.hset(ids, id, entry as string);
    }
    await client.xadd(key, '*', 'm', '{"id":"new"}');
    await client.hset(ids, 'new', 'x', '~since', 'y');
    let answer: unknown;
    const problems = await keysOutsideKeys(async () => {
      answer = await commands.run('history-trim-2', [key, ids], [2000]);
    });
    expect(problems).toEqual([]);
    expect((answer as unknown[])[0]).toBe(1);
    expect((await client.hkeys(ids)).sort()).toEqual(['new', '~since']);
  });

  it('should have ordering-enqueue and ordering-advance touch only their KEYS, releasing now and later', async () => {
    const keys = createKeys(uniquePrefix());
    const queue = await openQueue(keys);
    const ordering = createOrdering({ client, commands, keys });
    const parked = ['k1-a', 'k1-b', 'k2-a', 'k2-b'];
    for (const id of parked) {
      await queue.add('m', {}, { jobId: id, delay: PARK_MS });
      const due = id === 'k2-b' ? Date.now() + 60_000 : 0;
      await client.hset(keys.ordering('t', 'q').pending, id, String(due));
    }
    const jobs = parked.map((jobId) => ({ topic: 't', queue: 'q', orderingKey: jobId.slice(0, 2), jobId }));
    expect(await keysOutsideKeys(() => ordering.enqueue(jobs))).toEqual([]);
    await queue.remove('k1-a');
    await queue.remove('k2-a');
    expect(await keysOutsideKeys(() => ordering.finished('t', 'q', 'k1-a', 'k1'))).toEqual([]);
    expect(await keysOutsideKeys(() => ordering.sweep('t', 'q', 0))).toEqual([]);
    expect(await queue.getJobState('k1-b')).toBe('waiting');
    expect(await queue.getJobState('k2-b')).toBe('delayed');
  });

  it('should flag a script that touches a key it was not given', async () => {
    const keys = createKeys(uniquePrefix());
    const given = keys.topicStats('t');
    const problems = await keysOutsideKeys(() =>
      client.eval("redis.call('GET', KEYS[1]); return redis.call('GET', KEYS[1] .. ':x')", 1, given),
    );
    expect(problems).toEqual([`get ${given}:x`]);
  });
});
