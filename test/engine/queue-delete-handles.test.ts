import { describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { useEngineHarness } from './harness.js';
import { useTwoInstances } from './two-instances.js';

/**
 * A queue deleted on one instance (A) and then touched on another (B) that opens its BullMQ handle
 * for it only then: B, not having heard of the deletion yet, still routes to it and counts it. A
 * BullMQ `Queue` writes its queue's meta hash when it opens unless told not to, which would leave a
 * key of the deleted queue behind, one that BullMQ tools take for a queue.
 */
const harness = useEngineHarness();

const { twoInstances } = useTwoInstances(harness);

/** Every key of the queue left in Redis, by SCAN. */
async function keysOf(engine: Engine, topic: string, name: string): Promise<string[]> {
  const found: string[] = [];
  const stream = harness.redis
    .client()
    .scanStream({ match: `${engine.keys.bullPrefix(topic)}:${name}:*`, count: 1_000 });
  for await (const batch of stream) found.push(...(batch as string[]));
  return found.sort();
}

/** What B does with the deleted queue `orders/pull` before it hears of the deletion. */
const touches: [string, (b: Engine) => Promise<unknown>][] = [
  ['queueStats', (b) => b.queueStats({ topic: 'orders', name: 'pull' })],
  ['topicStats', (b) => b.topicStats('orders')],
  ['stats', (b) => b.stats()],
  ['metrics', (b) => b.metrics.render()],
  [
    'publish',
    async (b) => {
      // Routed first by B's stale table, refused by the topic's routing version, routed again.
      expect((await b.publish({ topic: 'orders', payload: 'late' })).routedTo).toEqual([]);
    },
  ],
];

describe('a queue deleted on one instance, then touched on another', () => {
  it.each(touches)('should leave no key of the queue after B runs %s', async (_, touch) => {
    const { a, b, proxy } = await twoInstances();
    const heard = new Promise<void>((resolve) => {
      const stop = b.registry.onChange((change) => {
        if (change.queue !== 'pull') return;
        stop();
        resolve();
      });
    });
    await a.createTopic({ name: 'orders', kind: 'FANOUT' });
    await a.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER' });
    await heard;
    // B reads its table now, so the queue is cached there, but opens no handle for it.
    expect((await b.queues('orders')).map((queue) => queue.name)).toEqual(['pull']);

    proxy.hold();
    await a.deleteQueue('orders', 'pull');
    expect(await keysOf(a, 'orders', 'pull')).toEqual([]);
    await touch(b);
    // A PING on B's commands connection, which the handles share: whatever the touch sent on it,
    // answered or not, Redis has run before this answers.
    expect(await b.redisHealthy()).toBe(true);

    expect(await keysOf(a, 'orders', 'pull')).toEqual([]);
    proxy.release();
  });

  it('should write the meta BullMQ keeps of a queue once, when it is created', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER' });

    const meta = await harness.redis.client().hgetall(engine.keys.bull('orders', 'pull').meta);
    expect(meta).toEqual({ 'opts.maxLenEvents': '10000', version: expect.stringMatching(/^bullmq:\d/) });
  });

  it('should not let a meta hash left by an earlier queue of the name pause the new one', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    // What a pauseQueue racing a delete on another instance leaves (docs/SCALING.md).
    const metaKey = engine.keys.bull('orders', 'pull').meta;
    await harness.redis.client().hset(metaKey, { paused: '1', 'opts.maxLenEvents': '10000' });
    await engine.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER' });

    const meta = await harness.redis.client().hgetall(metaKey);
    expect(meta).toEqual({ 'opts.maxLenEvents': '10000', version: expect.stringMatching(/^bullmq:\d/) });
    await engine.publish({ topic: 'orders', payload: { n: 1 } });
    expect(await engine.receive('orders', 'pull', 1, 2_000)).toHaveLength(1);
  });
});
