import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILURE_REASONS } from '../../queues/core/index.js';
import { discardCall, indexCall, releaseCall } from '../../queues/dead-letters/commands.js';
import { checkWindow, type PageWalk } from '../../queues/dead-letters/page.js';
import { type Commands, createKeys, defineCommands, type Keys } from '../../queues/redis/index.js';
import { startTestRedis, type TestRedis, uniquePrefix } from '../helpers/redis.js';

/**
 * The dead-letter scripts get their job keys from a caller that read the ids first: whatever changed
 * between that read and the call, the script's own check decides, and nothing wrong is written.
 */
let redis: TestRedis;
let client: Redis;
let commands: Commands;
beforeAll(async () => {
  redis = await startTestRedis();
  client = redis.client();
  commands = defineCommands(client);
});
afterAll(() => redis?.stop());

/** Every index set of topic 't' and queue 'q', for reading what the scripts left. */
function indexSets(keys: Keys): string[] {
  const sets = keys.deadLetters('t');
  return [
    sets.base,
    sets.queue('q'),
    ...FAILURE_REASONS.flatMap((reason) => [sets.reason(reason), sets.queueReason('q', reason)]),
  ];
}

async function membersOf(keys: Keys): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {};
  for (const set of indexSets(keys)) {
    const members = await client.zrange(set, 0, -1);
    if (members.length > 0) found[set.slice(set.indexOf('~'))] = members;
  }
  return found;
}

describe('dead-letter-index-n', () => {
  it('should index only the jobs still in the failed set when it runs, under their reason', async () => {
    const keys = createKeys(uniquePrefix());
    const bull = keys.bull('t', 'q');
    await client.zadd(bull.failed, 100, 'a', 200, 'b');
    await client.hset(bull.job('a'), 'failedReason', 'REJECTED: no');
    await client.hset(bull.job('b'), 'failedReason', 'PROCESSING: boom');
    // The caller read a, b and c; b was retried and c removed before the call.
    await client.zrem(bull.failed, 'b');
    const call = indexCall(keys, 't', 'q', ['a', 'b', 'c']);
    expect(call.keys).toContain(bull.job('c'));
    expect(await commands.run('dead-letter-index-n', call.keys, call.args)).toBe(1);
    expect(await membersOf(keys)).toEqual({
      '~dl': ['q/a'],
      '~dl:q:q': ['q/a'],
      '~dl:r:REJECTED': ['q/a'],
      '~dl:qr:q:REJECTED': ['q/a'],
    });
  });
});

describe('dead-letter-page-n', () => {
  const walk = (keys: Keys, overrides: Partial<PageWalk> = {}): PageWalk => ({
    topic: 't',
    set: keys.deadLetters('t').base,
    queues: ['q'],
    max: '+inf',
    min: '-inf',
    cursorId: '',
    cursorMember: '',
    rank: -1,
    want: 10,
    budget: 10,
    search: '',
    countOnly: false,
    hydrate: true,
    dropUnlisted: false,
    ...overrides,
  });

  async function seed(keys: Keys): Promise<string[]> {
    const bull = keys.bull('t', 'q');
    for (const [jobId, score] of [
      ['a', 300],
      ['b', 200],
      ['c', 100],
    ] as const) {
      await client.zadd(bull.failed, score, jobId);
      await client.hset(bull.job(jobId), 'data', `"${jobId}"`, 'failedReason', 'REJECTED: no');
      const call = indexCall(keys, 't', 'q', [jobId]);
      await commands.run('dead-letter-index-n', call.keys, call.args);
    }
    await client.rpush(bull.logs('c'), 'line');
    return client.zrevrange(keys.deadLetters('t').base, 0, -1, 'WITHSCORES');
  }

  it('should answer a window read before jobs changed as the jobs stand when it runs', async () => {
    const keys = createKeys(uniquePrefix());
    const bull = keys.bull('t', 'q');
    const window = await seed(keys);
    expect(window).toEqual(['q/a', '300', 'q/b', '200', 'q/c', '100']);
    // After the read: a failed again (moved to a new score), b was retried (left the failed set).
    await client.zadd(bull.failed, 400, 'a');
    const again = indexCall(keys, 't', 'q', ['a']);
    await commands.run('dead-letter-index-n', again.keys, again.args);
    await client.zrem(bull.failed, 'b');

    const check = await checkWindow(commands, keys, walk(keys), window);
    expect(check).toMatchObject({ consumed: 3, dropped: 1, finished: false, matches: 1 });
    expect(check.entries).toEqual([['q/c', '100', '100', '"c"', 'REJECTED: no', null, null, null, ['line']]]);
    // b is gone from every set; a stands at its new score.
    expect(await client.zrevrange(keys.deadLetters('t').base, 0, -1, 'WITHSCORES')).toEqual([
      'q/a',
      '400',
      'q/c',
      '100',
    ]);
    expect(Object.values(await membersOf(keys)).flat()).not.toContain('q/b');
  });

  it('should count an entry another call dropped since the read as dropped, and stop below the lowest score', async () => {
    const keys = createKeys(uniquePrefix());
    const window = await seed(keys);
    await client.zrem(keys.deadLetters('t').base, 'q/a');

    const check = await checkWindow(commands, keys, walk(keys, { min: '150', search: 'b' }), window);
    expect(check).toMatchObject({ consumed: 2, dropped: 1, finished: true, matches: 1 });
    expect(check.entries.map(([member]) => member)).toEqual(['q/b']);
  });
});

describe('dead-letter-discard-n and dead-letter-release-n', () => {
  /** Two dead letters of t/q, indexed, with logs; answers their keys. */
  async function twoDeadLetters() {
    const keys = createKeys(uniquePrefix());
    const bull = keys.bull('t', 'q');
    for (const [jobId, score] of [
      ['a', 100],
      ['b', 200],
    ] as const) {
      await client.zadd(bull.failed, score, jobId);
      await client.hset(bull.job(jobId), 'data', '"old"', 'failedReason', 'REJECTED: no', 'stc', '2');
      await client.rpush(bull.logs(jobId), 'attempt 1');
    }
    const call = indexCall(keys, 't', 'q', ['a', 'b']);
    await commands.run('dead-letter-index-n', call.keys, call.args);
    return { keys, bull };
  }

  it('should remove every key of a dead letter it is given, and leave one that left the failed set since the read', async () => {
    const { keys, bull } = await twoDeadLetters();
    await client.hset(bull.job('a'), 'x', '1');
    await client.rpush(`${bull.job('a')}:processed`, 'p');
    // Read as dead letters; b was retried before the call.
    await client.zrem(bull.failed, 'b');
    const call = discardCall(keys, 't', 'q', ['a', 'b']);
    expect(await commands.run('dead-letter-discard-n', call.keys, call.args)).toEqual(['a']);
    expect(await client.exists(...bull.jobKeys('a'))).toBe(0);
    expect(await client.exists(bull.job('b'), bull.logs('b'))).toBe(2);
    expect(Object.values(await membersOf(keys)).flat()).toEqual([]);
  });

  it('should release only the dead letters still in the failed set, logging the replay on each', async () => {
    const { keys, bull } = await twoDeadLetters();
    await client.zrem(bull.failed, 'b');
    const items = [
      { jobId: 'a', data: '"new"', reason: 'REJECTED' },
      { jobId: 'b', data: '', reason: null },
    ];
    const call = releaseCall(keys, 't', 'q', items, new Date('2026-01-02T03:04:05.000Z'));
    expect(await commands.run('dead-letter-release-n', call.keys, call.args)).toEqual([1, 0]);
    expect(await client.hgetall(bull.job('a'))).toEqual({
      data: '"new"',
      failedReason: 'REJECTED: no',
      syReplays: '1',
    });
    expect(await client.lrange(bull.logs('a'), 0, -1)).toEqual([
      'attempt 1',
      '{"replay":1,"at":"2026-01-02T03:04:05.000Z"}',
    ]);
    expect(await client.hget(bull.job('b'), 'syReplays')).toBeNull();
    expect(await client.lrange(bull.logs('b'), 0, -1)).toEqual(['attempt 1']);
    // Both leave the index: a is replayed, b's entry was stale.
    expect(Object.values(await membersOf(keys)).flat()).toEqual([]);
  });
});
