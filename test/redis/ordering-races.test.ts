import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADVANCED, LEFT_ALONE, READ_AGAIN } from '../../queues/redis/commands/ordering.js';
import {
  type Commands,
  createKeys,
  createOrdering,
  defineCommands,
  type Keys,
  PARK_MS,
} from '../../queues/redis/index.js';
import { advanceCall, advanceKeys, readFinished } from '../../queues/redis/ordering-advance.js';
import { startTestRedis, type TestRedis, uniquePrefix } from '../helpers/redis.js';

/**
 * `ordering-advance` gets its job keys from a caller that read the head and the line's front first:
 * whatever changed between that read and the call, the script's own check decides, and a key never
 * loses its head while its line holds messages.
 */
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
  await Promise.all(queues.map((queue) => queue.close()));
  await redis?.stop();
});

/** Queue 'q' of topic 't' holding parked jobs `ids`; key 'k' headed by the first, the rest in its line. */
async function keyWithLine(ids: string[]): Promise<{ keys: Keys; queue: Queue }> {
  const keys = createKeys(uniquePrefix());
  const queue = new Queue('q', { connection: client, prefix: keys.bullPrefix('t') });
  queues.push(queue);
  for (const id of ids) await queue.add('m', {}, { jobId: id, delay: PARK_MS });
  const ordering = keys.ordering('t', 'q');
  await client.hset(ordering.heads, 'k', ids[0] as string);
  for (const id of ids.slice(1)) await client.rpush(ordering.line('k'), `${id}|0`);
  return { keys, queue };
}

async function state(keys: Keys) {
  const ordering = keys.ordering('t', 'q');
  return {
    head: await client.hget(ordering.heads, 'k'),
    line: await client.lrange(ordering.line('k'), 0, -1),
  };
}

async function advance(keys: Keys, read: Awaited<ReturnType<typeof readFinished>>) {
  const call = advanceCall(keys, 't', 'q', read);
  return commands.run<number[]>('ordering-advance-n', call.keys, call.args);
}

describe('ordering-advance', () => {
  it('should leave a key alone when its head was advanced by another since the read', async () => {
    const { keys, queue } = await keyWithLine(['a', 'b', 'c']);
    await queue.remove('a');
    const read = await readFinished(client, keys, 't', 'q', ['k']);
    expect(read).toEqual([{ orderingKey: 'k', head: 'a', front: ['b|0', 'c|0'] }]);
    expect(await advance(keys, read)).toEqual([ADVANCED]);
    await queue.remove('b');
    // A second instance acting on the same read: b heads the key now, so nothing is popped.
    expect(await advance(keys, read)).toEqual([LEFT_ALONE]);
    expect(await state(keys)).toEqual({ head: 'b', line: ['c|0'] });
    expect(await queue.getJobState('c')).toBe('delayed');
  });

  it('should leave a head that is not finished alone', async () => {
    const { keys, queue } = await keyWithLine(['a', 'b']);
    const read = [{ orderingKey: 'k', head: 'a', front: ['b|0'] }];
    expect(await advance(keys, read)).toEqual([LEFT_ALONE]);
    expect(await state(keys)).toEqual({ head: 'a', line: ['b|0'] });
    expect(await queue.getJobState('b')).toBe('delayed');
  });

  it('should not drop the head of a key whose empty line got a message since the read', async () => {
    const { keys, queue } = await keyWithLine(['a']);
    await queue.remove('a');
    const read = await readFinished(client, keys, 't', 'q', ['k']);
    expect(read).toEqual([{ orderingKey: 'k', head: 'a', front: [] }]);
    await queue.add('m', {}, { jobId: 'late', delay: PARK_MS });
    await client.rpush(keys.ordering('t', 'q').line('k'), 'late|0');
    expect(await advance(keys, read)).toEqual([READ_AGAIN]);
    expect(await state(keys)).toEqual({ head: 'a', line: ['late|0'] });
    expect(await advanceKeys(client, commands, keys, { topic: 't', queue: 'q', orderingKeys: ['k'] })).toBe(
      1,
    );
    expect(await state(keys)).toEqual({ head: 'late', line: [] });
    expect(await queue.getJobState('late')).toBe('waiting');
  });

  it('should pass over a job of the read front removed since the read, and release the next', async () => {
    const { keys, queue } = await keyWithLine(['a', 'b', 'c']);
    await queue.remove('a');
    const read = await readFinished(client, keys, 't', 'q', ['k']);
    await queue.remove('b');
    expect(await advance(keys, read)).toEqual([ADVANCED]);
    expect(await state(keys)).toEqual({ head: 'c', line: [] });
    expect(await queue.getJobState('c')).toBe('waiting');
  });

  it('should keep the last removed entry as head when every entry read was removed and the line goes on', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const { keys, queue } = await keyWithLine(ids);
    for (const id of ids.slice(0, 5)) await queue.remove(id);
    const read = await readFinished(client, keys, 't', 'q', ['k']);
    expect(read[0]?.front).toEqual(['b|0', 'c|0', 'd|0', 'e|0']);
    expect(await advance(keys, read)).toEqual([READ_AGAIN]);
    expect(await state(keys)).toEqual({ head: 'e', line: ['f|0'] });
    expect(await advanceKeys(client, commands, keys, { topic: 't', queue: 'q', orderingKeys: ['k'] })).toBe(
      1,
    );
    expect(await state(keys)).toEqual({ head: 'f', line: [] });
    expect(await queue.getJobState('f')).toBe('waiting');
  });

  it('should advance only the key headed by the id named, when one is', async () => {
    const { keys, queue } = await keyWithLine(['a', 'b']);
    await queue.remove('a');
    const named = { topic: 't', queue: 'q', orderingKeys: ['k'] };
    expect(
      await advanceKeys(client, commands, keys, { ...named, only: new Map([['k', new Set(['other'])]]) }),
    ).toBe(0);
    expect(await state(keys)).toEqual({ head: 'a', line: ['b|0'] });
    expect(
      await advanceKeys(client, commands, keys, { ...named, only: new Map([['k', new Set(['a'])]]) }),
    ).toBe(1);
    expect(await state(keys)).toEqual({ head: 'b', line: [] });
  });
});

describe('ordering.finishing (an ack: the front read beside the completion)', () => {
  it('should advance with the front read before the job was finished', async () => {
    const { keys, queue } = await keyWithLine(['a', 'b', 'c']);
    const advanceWhenDone = createOrdering({ client, commands, keys }).finishing('t', 'q', 'a', 'k');
    await queue.remove('a');
    await advanceWhenDone();
    expect(await state(keys)).toEqual({ head: 'b', line: ['c|0'] });
    expect(await queue.getJobState('b')).toBe('waiting');
  });

  it('should read again when the line moved between the read and the completion', async () => {
    const { keys, queue } = await keyWithLine(['a', 'b']);
    const advanceWhenDone = createOrdering({ client, commands, keys }).finishing('t', 'q', 'a', 'k');
    // Read while the line held only 'b'; then 'b' is removed and 'c' lines up behind it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await queue.remove('b');
    await queue.add('m', {}, { jobId: 'c', delay: PARK_MS });
    await client.rpush(keys.ordering('t', 'q').line('k'), 'c|0');
    await queue.remove('a');
    await advanceWhenDone();
    expect(await state(keys)).toEqual({ head: 'c', line: [] });
    expect(await queue.getJobState('c')).toBe('waiting');
  });

  it('should leave the key alone when the job was not finished after all', async () => {
    const { keys } = await keyWithLine(['a', 'b']);
    await createOrdering({ client, commands, keys }).finishing('t', 'q', 'a', 'k')();
    expect(await state(keys)).toEqual({ head: 'a', line: ['b|0'] });
  });
});
