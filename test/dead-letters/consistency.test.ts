import { describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { eventually } from '../engine/harness.js';
import { waitFor } from '../helpers/redis.js';
import { consumerTopic, deadLetter, failAll, listAll, messageIds, useEngineHarness } from './helpers.js';

const harness = useEngineHarness();

/** What the index holds for a topic, read straight from Redis: members of the topic-wide set. */
const bullOf = (engine: Engine, queue: string) => harness.bullQueue(engine, 'orders', queue);

const indexed = (engine: Engine, topic: string) =>
  harness.redis.client().zrange(engine.keys.deadLetters(topic).base, 0, -1);

describe('index consistency with BullMQ', () => {
  it('should drop a dead letter retried and one removed through BullMQ’s own API from every query', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a']);
    const [retried, removed, kept] = await deadLetter(engine, 'orders', 'a', 3);
    const bull = harness.bullQueue(engine, 'orders', 'a');

    await (await bull.getJob(retried ?? ''))?.retry();
    await (await bull.getJob(removed ?? ''))?.remove();

    expect(messageIds(await listAll(engine))).toEqual([kept]);
    const page = await engine.deadLetters.page({ topic: 'orders', queue: 'a', reason: 'REJECTED' });
    expect(page.edges.map((edge) => edge.node.message.id)).toEqual([kept]);
    expect(await page.totalCount()).toBe(1);
    expect(await engine.deadLetters.get(`orders/a/${retried}`)).toBeNull();
    expect(await engine.deadLetters.get(`orders/a/${removed}`)).toBeNull();
    expect(await indexed(engine, 'orders')).toEqual([`a/${kept}`]);
    expect(await engine.queueStats({ topic: 'orders', name: 'a' })).toMatchObject({
      deadLettered: 1,
      waiting: 1,
    });
    expect(await engine.topicStats('orders')).toMatchObject({ deadLettered: 1 });
  });

  it('should find dead letters the index never heard of (a crash before indexing), at query time and on start', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a', 'b']);
    await engine.deadLetters.idle();
    await engine.publishBatch(
      Array.from({ length: 5 }, (_, n) => ({ topic: 'orders', routingKey: 'a', payload: n })),
    );
    await failAll(harness, engine, 'orders', 'a', 5, 'PROCESSING: worker died');
    expect(await indexed(engine, 'orders')).toEqual([]);

    // The query compares counts first and syncs the queue that differs.
    const page = await engine.deadLetters.page({ reason: 'PROCESSING' });
    expect(await page.totalCount()).toBe(5);
    expect(page.edges.map((edge) => edge.node.error)).toEqual(Array(5).fill('worker died'));

    // Equal counts but different members: only a full sync can tell. A new engine runs one on start.
    const bPublished = await engine.publish({ topic: 'orders', routingKey: 'b', payload: 'b' });
    await failAll(harness, engine, 'orders', 'b', 1, 'REJECTED: lost');
    const base = engine.keys.deadLetters('orders');
    const fake = 'b/not-a-job';
    const redis = harness.redis.client();
    const now = Date.now();
    await redis.zadd(base.base, now, fake);
    await redis.zadd(base.queue('b'), now, fake);
    await redis.zadd(base.reason('REJECTED'), now, fake);
    expect(await redis.zcard(base.queue('b'))).toBe(await bullOf(engine, 'b').getFailedCount());
    const restarted = await harness.engine({ keyPrefix: engine.keys.topics.split(':')[0] });
    await waitFor(async () => (await indexed(restarted, 'orders')).includes(`b/${bPublished.messageId}`), {
      message: 'the start repair did not index the unindexed dead letter',
    });
    await waitFor(async () => !(await indexed(restarted, 'orders')).includes(fake));
    expect(await (await restarted.deadLetters.page({ queue: 'b' })).totalCount()).toBe(1);
  });

  it('should drop entries whose job is gone as a read walks past them', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a']);
    const ids = await deadLetter(engine, 'orders', 'a', 4);
    const bull = harness.bullQueue(engine, 'orders', 'a');
    // Removed behind BullMQ's back too: the failed set no longer has them, the job hashes stay.
    await harness.redis.client().zrem(bull.toKey('failed'), ids[0] ?? '', ids[1] ?? '');

    expect(messageIds(await listAll(engine))).toEqual([ids[3], ids[2]]);
    expect(await indexed(engine, 'orders')).toHaveLength(2);
  });

  it('should index a failure that happens while the engine shuts down', async () => {
    const engine = await harness.engine();
    const receiver = await harness.receiver();
    const prefix = engine.keys.topics.split(':')[0];
    receiver.respond = () => ({ status: 400, body: 'no', delayMs: 300 });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'orders', name: 'hook', target: 'WEBHOOK', url: receiver.url });
    const { messageId } = await engine.publish({ topic: 'orders', payload: 1 });
    await eventually(() => receiver.requests[0]);

    // Closing waits for the delivery in flight; it fails for good while the engine is closing.
    await engine.close();

    expect(await indexed(engine, 'orders')).toEqual([`hook/${messageId}`]);
    const next = await harness.engine({ keyPrefix: prefix, runWorkers: false });
    const [dead] = await listAll(next);
    expect(dead).toMatchObject({ id: `orders/hook/${messageId}`, reason: 'REJECTED', error: 'HTTP 400: no' });
  });

  it('should drop the index of a deleted queue', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a', 'b']);
    await deadLetter(engine, 'orders', 'a', 2);
    const [kept] = await deadLetter(engine, 'orders', 'b', 1);

    await engine.deleteQueue('orders', 'a');

    expect(await indexed(engine, 'orders')).toEqual([`b/${kept}`]);
    const leftovers = await harness.redis.client().keys(`${engine.keys.deadLetters('orders').base}:*a*`);
    expect(leftovers).toEqual([]);
  });

  it('should keep queue and topic stats equal to the totalCount of the matching query', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a', 'b']);
    await deadLetter(engine, 'orders', 'a', 3);
    await deadLetter(engine, 'orders', 'b', 2, 'VALIDATION');
    await engine.deadLetters.replay((await listAll(engine, { queue: 'a' }))[0]?.id ?? '');

    for (const name of ['a', 'b']) {
      const stats = await engine.queueStats({ topic: 'orders', name });
      const total = await (await engine.deadLetters.page({ topic: 'orders', queue: name })).totalCount();
      expect(stats.deadLettered).toBe(total);
    }
    expect((await engine.topicStats('orders')).deadLettered).toBe(4);
    expect(await (await engine.deadLetters.page({ topic: 'orders' })).totalCount()).toBe(4);
  });
});
