import { describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { useEngineHarness } from './harness.js';

const harness = useEngineHarness();
const QUEUES = ['a', 'b', 'c'];

async function fanOut(maxPriority = 0): Promise<Engine> {
  const engine = await harness.engine();
  await engine.createTopic({ name: 'fan', kind: 'FANOUT' });
  for (const name of QUEUES) {
    await engine.createQueue({ topic: 'fan', name, target: 'CONSUMER', maxPriority });
  }
  return engine;
}

/** Every job count of each queue, all states summed: a refused message must be nowhere at all. */
async function jobsPerQueue(engine: Engine): Promise<number[]> {
  return Promise.all(
    QUEUES.map(async (name) => {
      const { waiting, active, delayed, completed, failed } = await engine.queueStats({ topic: 'fan', name });
      return waiting + active + delayed + completed + failed;
    }),
  );
}

/**
 * Makes every add to queue `b` fail inside Redis, half-way through a publish's writes: the way a
 * WRONGTYPE key or a corrupted counter does in production. Answers the repair.
 */
async function breakQueueB(engine: Engine, how: 'counter' | 'type'): Promise<() => Promise<void>> {
  const bull = harness.bullQueue(engine, 'fan', 'b');
  const client = harness.redis.client();
  const key = (how === 'counter' ? bull.keys.id : bull.keys.wait) as string;
  const saved = await client.dumpBuffer(key);
  await client.del(key);
  await client.set(key, 'not what BullMQ keeps here');
  return async () => {
    await client.del(key);
    if (saved) await client.restore(key, 0, saved);
  };
}

describe('atomic fan-out', () => {
  it.each(['counter', 'type'] as const)(
    'should put a publish into no queue when an add to one of them fails inside Redis (%s)',
    async (how) => {
      const engine = await fanOut();
      await engine.publish({ topic: 'fan', payload: 'before' });
      expect(await jobsPerQueue(engine)).toEqual([1, 1, 1]);

      const repair = await breakQueueB(engine, how);
      await expect(
        engine.publish({ topic: 'fan', payload: 'refused', idempotencyKey: 'k1' }),
      ).rejects.toThrow(/Nothing was written/);
      // Repaired as it was (queue stats cannot read a broken queue): a and c must not have moved.
      await repair();
      expect(await jobsPerQueue(engine)).toEqual([1, 1, 1]);
      expect(await engine.topicStats('fan')).toMatchObject({ published: 1, unrouted: 0 });

      // The refused publish kept no idempotency key: the client's retry is a fresh publish, into every queue.
      const retried = await engine.publish({ topic: 'fan', payload: 'refused', idempotencyKey: 'k1' });
      expect(retried).toMatchObject({ duplicate: false, routedTo: QUEUES });
      expect(await jobsPerQueue(engine)).toEqual([2, 2, 2]);
      expect(await engine.topicStats('fan')).toMatchObject({ published: 2 });
    },
  );

  it('should put no message of a batch into any queue when one add fails inside Redis', async () => {
    const engine = await fanOut(5);
    const repair = await breakQueueB(engine, 'counter');
    const batch = Array.from({ length: 20 }, (_, n) => ({ topic: 'fan', payload: n, priority: n % 5 }));

    await expect(engine.publishBatch(batch)).rejects.toThrow(/Nothing was written/);

    await repair();
    expect(await jobsPerQueue(engine)).toEqual([0, 0, 0]);
    expect(await engine.topicStats('fan')).toMatchObject({ published: 0 });
    expect((await engine.publishBatch(batch)).every((result) => result.routedTo.length === 3)).toBe(true);
    expect(await jobsPerQueue(engine)).toEqual([20, 20, 20]);
  });

  it('should refuse only the publishes that touch the broken queue among concurrent ones', async () => {
    const engine = await fanOut();
    await engine.createTopic({ name: 'other', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'other', name: 'x', target: 'CONSUMER' });
    const repair = await breakQueueB(engine, 'type');
    const results = await Promise.allSettled([
      engine.publish({ topic: 'fan', payload: 1 }),
      engine.publish({ topic: 'other', payload: 2 }),
      engine.publish({ topic: 'other', payload: 3, idempotencyKey: 'kept' }),
    ]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    await repair();
    expect(await jobsPerQueue(engine)).toEqual([0, 0, 0]);
    expect((await engine.queueStats({ topic: 'other', name: 'x' })).waiting).toBe(2);
    expect(await engine.publish({ topic: 'other', payload: 3, idempotencyKey: 'kept' })).toMatchObject({
      duplicate: true,
    });
  });

  it('should refuse a publish whole when Redis is out of memory, and keep no idempotency key', async () => {
    const engine = await fanOut();
    const client = harness.redis.client();
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    await client.config('SET', 'maxmemory', '1');
    try {
      await expect(engine.publish({ topic: 'fan', payload: 'oom', idempotencyKey: 'k2' })).rejects.toThrow(
        /OOM/,
      );
    } finally {
      await client.config('SET', 'maxmemory', '0');
    }
    expect(await jobsPerQueue(engine)).toEqual([0, 0, 0]);
    expect(await engine.topicStats('fan')).toMatchObject({ published: 0 });
    expect(await engine.publish({ topic: 'fan', payload: 'oom', idempotencyKey: 'k2' })).toMatchObject({
      duplicate: false,
      routedTo: QUEUES,
    });
  });
});
