import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ADDS_PER_COMMAND } from '../../queues/redis/bull-add.js';
import { defineCommands } from '../../queues/redis/commands/index.js';
import { createGroupCommit, MAX_TRANSACTION_ADDS } from '../../queues/redis/group-commit.js';
import { startTestRedis, type TestRedis, uniquePrefix } from '../helpers/redis.js';
import { serializedAdd } from '../helpers/serialized-add.js';

let redis: TestRedis;
let client: Redis;
beforeAll(async () => {
  redis = await startTestRedis();
  client = redis.client();
  defineCommands(client);
});
afterAll(async () => {
  await redis?.stop();
});

describe('group commit', () => {
  it('should write the commits of one event-loop turn in one transaction', async () => {
    const prefix = uniquePrefix();
    let opened = 0;
    const commits = createGroupCommit({
      open: () => {
        opened++;
        return client.multi();
      },
    });
    await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        commits.commit(({ transaction }) => {
          transaction.set(`${prefix}:${index}`, String(index));
        }),
      ),
    );
    expect(opened).toBe(1);
    expect(await client.get(`${prefix}:19`)).toBe('19');
  });

  it('should split a flush into transactions of at most maxWeight, never splitting a caller', async () => {
    const prefix = uniquePrefix();
    const transactions: string[][] = [];
    const commits = createGroupCommit({
      maxWeight: 3,
      open: () => {
        const keys: string[] = [];
        transactions.push(keys);
        const transaction = client.multi();
        const set = transaction.set.bind(transaction);
        return Object.assign(transaction, {
          set: (key: string, value: string) => {
            keys.push(key.slice(prefix.length + 1));
            return set(key, value);
          },
        });
      },
    });
    const weights = [2, 2, 1, 5, 1, 1];
    await Promise.all(
      weights.map((weight, index) =>
        commits.commit(({ transaction }) => {
          transaction.set(`${prefix}:${index}`, String(weight));
        }, weight),
      ),
    );
    // 2 | 2+1 | 5 (heavier than the cap: alone) | 1+1
    expect(transactions).toEqual([['0'], ['1', '2'], ['3'], ['4', '5']]);
    expect(await client.mget(weights.map((_, index) => `${prefix}:${index}`))).toEqual(weights.map(String));
  });

  it('should cap a transaction at MAX_TRANSACTION_ADDS by default', async () => {
    let opened = 0;
    const commits = createGroupCommit({
      open: () => {
        opened++;
        return client.multi();
      },
    });
    const prefix = uniquePrefix();
    await Promise.all(
      Array.from({ length: MAX_TRANSACTION_ADDS + 1 }, (_, index) =>
        commits.commit(({ transaction }) => {
          transaction.set(`${prefix}:${index}`, 'x');
        }),
      ),
    );
    expect(opened).toBe(2);
  });

  it('should apply the other transactions of a flush when one of them aborts', async () => {
    const prefix = uniquePrefix();
    let transactions = 0;
    const commits = createGroupCommit({
      maxWeight: 1,
      open: () => client.multi(),
      beforeExec: (transaction) => {
        // Only the flush's first transaction gets a command that makes EXEC abort.
        if (transactions++ === 0) transaction.call('NO_SUCH_COMMAND');
      },
    });
    const results = await Promise.allSettled(
      [1, 2, 3].map((index) =>
        commits.commit(({ transaction }) => {
          transaction.set(`${prefix}:${index}`, 'x');
        }),
      ),
    );
    expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(await client.mget(`${prefix}:1`, `${prefix}:2`, `${prefix}:3`)).toEqual([null, 'x', 'x']);
  });

  it('should reject the callers of a transaction whose writing throws, and apply the others', async () => {
    const prefix = uniquePrefix();
    const commits = createGroupCommit({ open: () => client.multi(), maxWeight: 2 });
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map((index) =>
        commits.commit(({ transaction }) => {
          transaction.set(`${prefix}:${index}`, 'x');
          if (index === 2) throw new Error('the second caller cannot write');
        }),
      ),
    );
    // 1+2 | 3+4: the first transaction is never sent, the second is applied.
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

  it("should reject only the caller whose own command failed, and apply the others'", async () => {
    const prefix = uniquePrefix();
    await client.set(`${prefix}:text`, 'not a number');
    const commits = createGroupCommit({ open: () => client.multi() });
    const [failing, fine] = await Promise.allSettled([
      commits.commit(({ transaction }) => {
        transaction.incr(`${prefix}:text`);
      }),
      commits.commit(({ transaction }) => {
        transaction.set(`${prefix}:fine`, 'yes');
      }),
    ]);
    expect(failing.status).toBe('rejected');
    expect(String((failing as PromiseRejectedResult).reason)).toMatch(/not an integer/);
    expect(fine.status).toBe('fulfilled');
    expect(await client.get(`${prefix}:fine`)).toBe('yes');
  });

  it('should reject every caller and apply nothing when EXEC aborts', async () => {
    const prefix = uniquePrefix();
    const commits = createGroupCommit({
      open: () => client.multi(),
      beforeExec: (transaction) => {
        transaction.call('NO_SUCH_COMMAND');
      },
    });
    const results = await Promise.allSettled(
      [1, 2].map((index) =>
        commits.commit(({ transaction }) => {
          transaction.set(`${prefix}:${index}`, 'x');
        }),
      ),
    );
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(await client.exists(`${prefix}:1`, `${prefix}:2`)).toBe(0);
  });

  it('should reject the callers whose adds share a failing add command, and only them', async () => {
    const prefix = uniquePrefix();
    const [broken, fine] = ['broken', 'fine'].map((name) => new Queue(name, { connection: client, prefix }));
    // A priority counter that is not a number makes every prioritized add to `broken` fail.
    await client.set(broken?.keys.pc as string, 'not a number');
    const commits = createGroupCommit({ open: () => client.multi() });
    const results = await Promise.allSettled([
      commits.commit(({ adds }) => adds.add(broken as Queue, serializedAdd('a'))),
      commits.commit(({ transaction, adds }) => {
        transaction.set(`${prefix}:own`, 'x');
        adds.add(fine as Queue, serializedAdd('b'));
        adds.add(broken as Queue, serializedAdd('c'));
      }),
      commits.commit(({ adds }) => adds.add(fine as Queue, serializedAdd('d'))),
    ]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/not an integer/);
    expect(await fine?.getJobState('d')).toBe('prioritized');
    await Promise.all([broken?.close(), fine?.close()]);
  });

  it("should reject only the callers in a queue's failing add command when its adds take several", async () => {
    const prefix = uniquePrefix();
    const queue = new Queue('q', { connection: client, prefix });
    await client.set(queue.keys.pc as string, 'not a number');
    const commits = createGroupCommit({ open: () => client.multi(), maxWeight: Number.POSITIVE_INFINITY });
    // The first caller's unprioritized adds fill the first command exactly; the second caller's
    // prioritized add goes into the next one and fails on the broken priority counter.
    const first = Array.from({ length: MAX_ADDS_PER_COMMAND }, (_, index) => serializedAdd(`a${index}`, 0));
    const results = await Promise.allSettled([
      commits.commit(({ adds }) => {
        for (const one of first) adds.add(queue, one);
      }, first.length),
      commits.commit(({ adds }) => adds.add(queue, serializedAdd('b'))),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected']);
    expect(await queue.getWaitingCount()).toBe(MAX_ADDS_PER_COMMAND);
    await queue.close();
  });
});
