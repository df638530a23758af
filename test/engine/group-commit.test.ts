import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Commands, defineCommands } from '../../queues/redis/commands/index.js';
import {
  CommitRefusedError,
  createGroupCommit,
  MAX_TRANSACTION_ADDS,
} from '../../queues/redis/group-commit.js';
import type { RunPublishCommit } from '../../queues/redis/publish-commit.js';
import { startTestRedis, type TestRedis, uniquePrefix } from '../helpers/redis.js';
import { serializedAdd } from '../helpers/serialized-add.js';

let redis: TestRedis;
let client: Redis;
let commands: Commands;
/** The real `publish-commit` on this file's Redis. */
const run: RunPublishCommit = (keys, args) => commands.run('publish-commit-n', keys, args);
beforeAll(async () => {
  redis = await startTestRedis();
  client = redis.client();
  commands = defineCommands(client);
});
afterAll(async () => {
  await redis?.stop();
});

/** The real `publish-commit`, counting the calls and how many publishes each carried. */
function countingRun(): { run: RunPublishCommit; calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    run: (keys, args) => {
      calls.push(Number(args[1]));
      return run(keys, args);
    },
  };
}

const queueOf = (prefix: string, name: string) => new Queue(name, { connection: client, prefix });

describe('group commit', () => {
  it('should write the commits of one event-loop turn in one call', async () => {
    const prefix = uniquePrefix();
    const { run, calls } = countingRun();
    const commits = createGroupCommit({ run });
    await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        commits.commit((commit) => commit.set(`${prefix}:${index}`, String(index), 60_000)),
      ),
    );
    expect(calls).toEqual([20]);
    expect(await client.get(`${prefix}:19`)).toBe('19');
  });

  it('should split a flush into calls of at most maxWeight, never splitting a caller', async () => {
    const prefix = uniquePrefix();
    const { run, calls } = countingRun();
    const commits = createGroupCommit({ run, maxWeight: 3 });
    const weights = [2, 2, 1, 5, 1, 1];
    await Promise.all(
      weights.map((weight, index) =>
        commits.commit((commit) => commit.set(`${prefix}:${index}`, String(weight), 60_000), weight),
      ),
    );
    // 2 | 2+1 | 5 (heavier than the cap: alone) | 1+1
    expect(calls).toEqual([1, 2, 1, 2]);
    expect(await client.mget(weights.map((_, index) => `${prefix}:${index}`))).toEqual(weights.map(String));
  });

  it('should cap a call at MAX_TRANSACTION_ADDS by default', async () => {
    const { run, calls } = countingRun();
    const commits = createGroupCommit({ run });
    const prefix = uniquePrefix();
    await Promise.all(
      Array.from({ length: MAX_TRANSACTION_ADDS + 1 }, (_, index) =>
        commits.commit((commit) => commit.set(`${prefix}:${index}`, 'x', 60_000)),
      ),
    );
    expect(calls).toEqual([MAX_TRANSACTION_ADDS, 1]);
  });

  it('should reject the callers of a call that cannot be sent, and apply the other calls', async () => {
    const prefix = uniquePrefix();
    let sent = 0;
    const commits = createGroupCommit({
      run,
      maxWeight: 1,
      beforeExec: () => {
        if (sent++ === 0) throw new Error('the first call cannot be sent');
      },
    });
    const results = await Promise.allSettled(
      [1, 2, 3].map((index) => commits.commit((commit) => commit.set(`${prefix}:${index}`, 'x', 60_000))),
    );
    expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(await client.mget(`${prefix}:1`, `${prefix}:2`, `${prefix}:3`)).toEqual([null, 'x', 'x']);
  });

  it('should reject the callers of a call whose writing throws, and apply the others', async () => {
    const prefix = uniquePrefix();
    const commits = createGroupCommit({ run, maxWeight: 2 });
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map((index) =>
        commits.commit((commit) => {
          commit.set(`${prefix}:${index}`, 'x', 60_000);
          if (index === 2) throw new Error('the second caller cannot write');
        }),
      ),
    );
    // 1+2 | 3+4: the first call is never sent, the second is applied.
    expect(results.map((result) => result.status)).toEqual([
      'rejected',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/second caller cannot write/);
    expect(await client.mget([1, 2, 3, 4].map((index) => `${prefix}:${index}`))).toEqual([
      null,
      null,
      'x',
      'x',
    ]);
  });
});

describe('group commit: each caller all or nothing', () => {
  it('should refuse a caller whose counter is no integer, with none of its writes, and apply the others', async () => {
    const prefix = uniquePrefix();
    await client.hset(`${prefix}:stats`, 'published', 'not a number');
    const commits = createGroupCommit({ run });
    const [failing, fine] = await Promise.allSettled([
      commits.commit((commit) => {
        commit.set(`${prefix}:first`, 'written before the bad one', 60_000);
        commit.hincrby(`${prefix}:stats`, 'published', 1);
      }),
      commits.commit((commit) => commit.set(`${prefix}:fine`, 'yes', 60_000)),
    ]);
    expect(failing.status).toBe('rejected');
    expect((failing as PromiseRejectedResult).reason).toBeInstanceOf(CommitRefusedError);
    expect(String((failing as PromiseRejectedResult).reason)).toMatch(/published holds no integer/);
    expect(fine.status).toBe('fulfilled');
    expect(await client.mget(`${prefix}:first`, `${prefix}:fine`)).toEqual([null, 'yes']);
  });

  it('should count into one field once for the callers that passed, the refused one left out', async () => {
    const prefix = uniquePrefix();
    await client.set(`${prefix}:list`, 'a string where a hash belongs');
    const commits = createGroupCommit({ run });
    const outcomes = await Promise.allSettled(
      [3, 5, 7, 11].map((increment, index) =>
        commits.commit((commit) => {
          commit.hincrby(`${prefix}:stats`, 'published', increment);
          commit.hincrby(`${prefix}:stats`, `own:${index}`, 1);
          // The third caller's other write would fail: its count must not be in the sum.
          if (index === 2) commit.hincrby(`${prefix}:list`, 'field', 1);
        }),
      ),
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect(await client.hgetall(`${prefix}:stats`)).toEqual({
      published: String(3 + 5 + 11),
      'own:0': '1',
      'own:1': '1',
      'own:3': '1',
    });
  });

  it('should put a fan-out into none of its queues when one of them would fail the add', async () => {
    const prefix = uniquePrefix();
    const [a, b, c] = ['a', 'b', 'c'].map((name) => queueOf(prefix, name)) as [Queue, Queue, Queue];
    // A priority counter that is not a number fails every prioritized add to `b` half-way through.
    await client.set(b.keys.pc as string, 'not a number');
    const commits = createGroupCommit({ run });
    const results = await Promise.allSettled([
      commits.commit((commit) => commit.add(b, serializedAdd('alone-in-b'))),
      commits.commit((commit) => {
        commit.set(`${prefix}:idempotency`, 'fan-out', 60_000);
        commit.hincrby(`${prefix}:stats`, 'published', 1);
        for (const queue of [a, b, c]) commit.add(queue, serializedAdd('fan-out'));
      }),
      commits.commit((commit) => {
        commit.add(a, serializedAdd('fine'));
        commit.add(c, serializedAdd('fine'));
      }),
    ]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/:b:pc holds no integer/);
    expect(await Promise.all([a, b, c].map((queue) => queue.getJobState('fan-out')))).toEqual([
      'unknown',
      'unknown',
      'unknown',
    ]);
    expect(await client.exists(`${prefix}:idempotency`, `${prefix}:stats`)).toBe(0);
    expect(await Promise.all([a, c].map((queue) => queue.getJobState('fine')))).toEqual([
      'prioritized',
      'prioritized',
    ]);
    await Promise.all([a, b, c].map((queue) => queue.close()));
  });

  it('should refuse a caller whose queue key holds the wrong type', async () => {
    const prefix = uniquePrefix();
    const [a, b] = ['a', 'b'].map((name) => queueOf(prefix, name)) as [Queue, Queue];
    await client.set(b.keys.wait as string, 'a string where a list belongs');
    const commits = createGroupCommit({ run });
    const result = commits.commit((commit) => {
      commit.add(a, serializedAdd('m', 0));
      commit.add(b, serializedAdd('m', 0));
    });
    await expect(result).rejects.toThrow(/:b:wait holds a string where a list belongs/);
    expect(await a.getWaitingCount()).toBe(0);
    await Promise.all([a.close(), b.close()]);
  });

  it('should write nothing of any caller when Redis is out of memory', async () => {
    const prefix = uniquePrefix();
    const queue = queueOf(prefix, 'q');
    await queue.waitUntilReady();
    const commits = createGroupCommit({ run });
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    await client.config('SET', 'maxmemory', '1');
    try {
      const results = await Promise.allSettled([
        commits.commit((commit) => commit.add(queue, serializedAdd('one'))),
        commits.commit((commit) => {
          commit.add(queue, serializedAdd('two'));
          commit.set(`${prefix}:idempotency`, 'two', 60_000);
        }),
      ]);
      expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
      expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/OOM/);
    } finally {
      await client.config('SET', 'maxmemory', '0');
    }
    expect(await queue.getJobCounts()).toMatchObject({ prioritized: 0, waiting: 0 });
    expect(await client.exists(`${prefix}:idempotency`)).toBe(0);
    await queue.close();
  });
});
