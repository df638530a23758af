import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILURE_REASONS } from '../../queues/core/index.js';
import { indexCall } from '../../queues/dead-letters/commands.js';
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
