import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import type { MessageRecord } from '../../queues/core/types.js';
import type { Engine } from '../../queues/engine/engine.js';
import { expectRefusal, useEngineHarness } from './harness.js';
import { useTwoInstances } from './two-instances.js';

/**
 * Two instances on one Redis, B hearing the registry's announcements late: a publish through B must
 * route by the topic's queues as they are once a change on A has returned, not as B last heard of
 * them (docs/SCALING.md, "Several gateways on one Redis").
 */
const harness = useEngineHarness();

const { twoInstances } = useTwoInstances(harness);

/** Resolves once `engine` has heard of a change to this topic (and queue, when named). */
function hears(engine: Engine, topic: string, queue?: string): Promise<void> {
  return new Promise((resolve) => {
    const stop = engine.registry.onChange((change) => {
      if (change.topic !== topic || change.queue !== queue) return;
      stop();
      resolve();
    });
  });
}

/**
 * Runs A's setup and waits until B has heard of its last change (announcements arrive in order), so
 * nothing of the setup is still on its way to B when the proxy starts holding.
 */
async function settled(b: Engine, last: { topic: string; queue?: string }, setup: () => Promise<void>) {
  const heard = hears(b, last.topic, last.queue);
  await setup();
  await heard;
}

/** The payloads a queue holds, in every state, sorted. */
async function payloads(engine: Engine, topic: string, queue: string): Promise<string[]> {
  const jobs = await harness.bullQueue(engine, topic, queue).getJobs();
  return jobs.map((job) => String((job.data as MessageRecord).payload)).sort();
}

describe('a queue created on another instance, its announcement held back', () => {
  it('should reach the new queue with a publish accepted after createQueue returned', async () => {
    const { a, b, proxy } = await twoInstances();
    await settled(b, { topic: 'orders', queue: 'old' }, async () => {
      await a.createTopic({ name: 'orders', kind: 'FANOUT' });
      await a.createQueue({ topic: 'orders', name: 'old', target: 'CONSUMER' });
    });
    expect((await b.publish({ topic: 'orders', payload: 'warm' })).routedTo).toEqual(['old']);

    proxy.hold();
    await a.createQueue({ topic: 'orders', name: 'new', target: 'CONSUMER' });
    const result = await b.publish({ topic: 'orders', payload: 'after' });

    expect(result.routedTo).toEqual(['new', 'old']);
    expect(await payloads(a, 'orders', 'new')).toEqual(['after']);
    // The refused try wrote nothing: one job per accepted publish, each counted once.
    expect(await payloads(a, 'orders', 'old')).toEqual(['after', 'warm']);
    expect(await a.topicStats('orders')).toMatchObject({ published: 2, unrouted: 0 });
  });

  it('should reach the new queues of every topic of a publishBatch', async () => {
    const { a, b, proxy } = await twoInstances();
    await settled(b, { topic: 'invoices', queue: 'old' }, async () => {
      for (const topic of ['orders', 'invoices']) {
        await a.createTopic({ name: topic, kind: 'FANOUT' });
        await a.createQueue({ topic, name: 'old', target: 'CONSUMER' });
      }
    });
    await b.publishBatch([
      { topic: 'orders', payload: 'warm' },
      { topic: 'invoices', payload: 'warm' },
    ]);

    proxy.hold();
    await a.createQueue({ topic: 'orders', name: 'new', target: 'CONSUMER' });
    await a.createQueue({ topic: 'invoices', name: 'new', target: 'CONSUMER' });
    const results = await b.publishBatch([
      { topic: 'orders', payload: 'after' },
      { topic: 'invoices', payload: 'after' },
    ]);

    expect(results.map((result) => result.routedTo)).toEqual([
      ['new', 'old'],
      ['new', 'old'],
    ]);
    for (const topic of ['orders', 'invoices']) {
      expect(await payloads(a, topic, 'new'), topic).toEqual(['after']);
      expect(await payloads(a, topic, 'old'), topic).toEqual(['after', 'warm']);
      expect(await a.topicStats(topic), topic).toMatchObject({ published: 2 });
    }
  });

  it('should reach it with concurrent publishes (group commit), each written once with its history and idempotency key', async () => {
    const { a, b, proxy, keys } = await twoInstances();
    await settled(b, { topic: 'orders', queue: 'old' }, async () => {
      await a.createTopic({ name: 'orders', kind: 'FANOUT', history: { maxMessages: 1000 } });
      await a.createQueue({ topic: 'orders', name: 'old', target: 'CONSUMER' });
    });
    await b.publish({ topic: 'orders', payload: 'warm' });

    proxy.hold();
    await a.createQueue({ topic: 'orders', name: 'new', target: 'CONSUMER' });
    const sent = Array.from({ length: 20 }, (_, index) => `m${String(index).padStart(2, '0')}`);
    const results = await Promise.all(
      sent.map((payload, index) =>
        b.publish({ topic: 'orders', payload, idempotencyKey: index % 2 === 0 ? `k-${payload}` : null }),
      ),
    );

    expect(results.every((result) => result.routedTo.join() === 'new,old')).toBe(true);
    expect(await payloads(a, 'orders', 'new')).toEqual(sent);
    expect(await payloads(a, 'orders', 'old')).toEqual([...sent, 'warm']);
    expect(await a.topicStats('orders')).toMatchObject({ published: 21, unrouted: 0 });
    const redis = harness.redis.client();
    expect(await redis.xlen(keys.topicHistory('orders'))).toBe(21);
    // Each idempotency key names the message its publish answered, none a refused try's.
    for (const [index, result] of results.entries()) {
      if (index % 2 !== 0) continue;
      expect(await redis.get(keys.idempotency('orders', `k-${sent[index]}`))).toBe(result.messageId);
    }
  });
});

describe('a binding changed on another instance, its announcement held back', () => {
  it('should route by the new binding key at once', async () => {
    const { a, b, proxy } = await twoInstances();
    await settled(b, { topic: 'orders', queue: 'q' }, async () => {
      await a.createTopic({ name: 'orders', kind: 'DIRECT' });
      await a.createQueue({ topic: 'orders', name: 'q', target: 'CONSUMER', bindingKey: 'eu' });
    });
    expect((await b.publish({ topic: 'orders', routingKey: 'eu', payload: 'warm' })).routedTo).toEqual(['q']);

    proxy.hold();
    await a.updateQueue('orders', 'q', { bindingKey: 'us' });

    expect((await b.publish({ topic: 'orders', routingKey: 'us', payload: 'us' })).routedTo).toEqual(['q']);
    expect((await b.publish({ topic: 'orders', routingKey: 'eu', payload: 'eu' })).routedTo).toEqual([]);
    expect(await payloads(a, 'orders', 'q')).toEqual(['us', 'warm']);
    expect(await a.topicStats('orders')).toMatchObject({ published: 3, unrouted: 1 });
  });
});

describe('a queue deleted on another instance, its announcement held back', () => {
  it('should route no publish into it and leave none of its keys', async () => {
    const { a, b, proxy } = await twoInstances();
    await settled(b, { topic: 'orders', queue: 'gone' }, async () => {
      await a.createTopic({ name: 'orders', kind: 'FANOUT' });
      await a.createQueue({ topic: 'orders', name: 'keep', target: 'CONSUMER' });
      await a.createQueue({ topic: 'orders', name: 'gone', target: 'CONSUMER' });
    });
    expect((await b.publish({ topic: 'orders', payload: 'warm' })).routedTo).toEqual(['gone', 'keep']);

    proxy.hold();
    await a.deleteQueue('orders', 'gone');
    const single = await b.publish({ topic: 'orders', payload: 'after' });
    const batch = await b.publishBatch([
      { topic: 'orders', payload: 'batch-1' },
      { topic: 'orders', payload: 'batch-2' },
    ]);

    expect(single.routedTo).toEqual(['keep']);
    expect(batch.map((result) => result.routedTo)).toEqual([['keep'], ['keep']]);
    expect(await harness.redis.client().keys(`${a.keys.bullPrefix('orders')}:gone:*`)).toEqual([]);
    expect(await payloads(a, 'orders', 'keep')).toEqual(['after', 'batch-1', 'batch-2', 'warm']);
    expect(await a.topicStats('orders')).toMatchObject({ published: 4, unrouted: 0 });
  });

  it('should count a publish as unrouted once the topic has no queue left', async () => {
    const { a, b, proxy } = await twoInstances();
    await settled(b, { topic: 'orders', queue: 'gone' }, async () => {
      await a.createTopic({ name: 'orders', kind: 'FANOUT' });
      await a.createQueue({ topic: 'orders', name: 'gone', target: 'CONSUMER' });
    });
    await b.publish({ topic: 'orders', payload: 'warm' });

    proxy.hold();
    await a.deleteQueue('orders', 'gone');

    expect((await b.publish({ topic: 'orders', payload: 'after' })).routedTo).toEqual([]);
    expect(await harness.redis.client().keys(`${a.keys.bullPrefix('orders')}:gone:*`)).toEqual([]);
    expect(await a.topicStats('orders')).toMatchObject({ published: 2, unrouted: 1 });
  });
});

describe('a topic deleted on another instance, its announcement held back', () => {
  it('should refuse NOT_FOUND at once and write nothing of the topic again', async () => {
    const { a, b, proxy, keys } = await twoInstances();
    await settled(b, { topic: 'orders' }, async () => {
      await a.createTopic({ name: 'orders', kind: 'FANOUT', history: { maxMessages: 10 } });
    });
    await b.publish({ topic: 'orders', payload: 'warm' });
    const redis = harness.redis.client();
    const published = await redis.hget(keys.topicStats('orders'), 'published');

    proxy.hold();
    await a.deleteTopic('orders');

    await expectRefusal(b.publish({ topic: 'orders', payload: 'after' }), ErrorCode.NotFound);
    expect(await redis.exists(keys.topicHistory('orders'), keys.topicHistoryIds('orders'))).toBe(0);
    expect(await redis.hget(keys.topicStats('orders'), 'published')).toBe(published);
  });
});
