import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import { expectRefusal, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

/** Two engines on one Redis and one prefix: two gateway instances of one deployment. */
async function twoInstances() {
  const keyPrefix = uniquePrefix();
  const a = await harness.engine({ keyPrefix });
  const b = await harness.engine({ keyPrefix });
  return { a, b };
}

describe('registry across instances', () => {
  it('should route by a topic and queue created on another instance within a bounded wait', async () => {
    const { a, b } = await twoInstances();
    // B caches a routing table that has no such topic yet.
    await expectRefusal(b.publish({ topic: 'orders', payload: 1 }), ErrorCode.NotFound);
    expect(await b.topics()).toEqual([]);

    await a.createTopic({ name: 'orders', kind: 'DIRECT' });
    await a.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER', bindingKey: 'k' });

    const routed = await waitFor(
      async () => {
        const { routedTo } = await b.publish({ topic: 'orders', payload: 'from b', routingKey: 'k' });
        return routedTo.length > 0 ? routedTo : null;
      },
      { timeoutMs: 2000, message: "instance B never saw instance A's queue" },
    );
    expect(routed).toEqual(['pull']);
    const deliveries = await a.receive('orders', 'pull', 10, 0);
    expect(deliveries.map((delivery) => delivery.message.payload)).toContain('from b');
  });

  it('should stop routing to a queue deleted on another instance, and follow its binding changes', async () => {
    const { a, b } = await twoInstances();
    await a.createTopic({ name: 'orders', kind: 'DIRECT' });
    await a.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER', bindingKey: 'old' });
    await waitFor(
      async () => (await b.publish({ topic: 'orders', payload: 1, routingKey: 'old' })).routedTo.length === 1,
    );

    await a.updateQueue('orders', 'pull', { bindingKey: 'new' });
    await waitFor(
      async () => (await b.publish({ topic: 'orders', payload: 2, routingKey: 'new' })).routedTo.length === 1,
      {
        timeoutMs: 2000,
        message: "instance B kept A's old binding",
      },
    );
    expect((await b.publish({ topic: 'orders', payload: 3, routingKey: 'old' })).routedTo).toEqual([]);

    await a.deleteQueue('orders', 'pull');
    await waitFor(async () => (await b.queues('orders')).length === 0, { timeoutMs: 2000 });
    expect((await b.publish({ topic: 'orders', payload: 4, routingKey: 'new' })).routedTo).toEqual([]);
  });

  it('should start a webhook worker on every instance for a queue created on one', async () => {
    const { a, b } = await twoInstances();
    const receiver = await harness.receiver();
    await a.createTopic({ name: 'orders', kind: 'FANOUT' });
    await a.createQueue({ topic: 'orders', name: 'hook', target: 'WEBHOOK', url: receiver.url });

    await waitFor(() => a.webhookWorkers === 1 && b.webhookWorkers === 1, {
      timeoutMs: 2000,
      message: 'not every instance started a worker',
    });
    await b.publish({ topic: 'orders', payload: 1 });
    await waitFor(() => receiver.requests.length === 1);

    await b.deleteQueue('orders', 'hook');
    await waitFor(() => a.webhookWorkers === 0 && b.webhookWorkers === 0, { timeoutMs: 2000 });
  });
});

describe('stored queue records', () => {
  it('should read a queue stored before maxPriority existed as a priority queue of 0..9', async () => {
    const keyPrefix = uniquePrefix();
    const engine = await harness.engine({ keyPrefix });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const created = await engine.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER' });
    const { maxPriority: _dropped, ...older } = created;
    const client = harness.redis.client();
    await client.hset(engine.keys.topicQueues('orders'), 'pull', JSON.stringify(older));
    // A fresh instance: nothing cached from the create.
    const fresh = await harness.engine({ keyPrefix });

    expect(await fresh.queue('orders', 'pull')).toEqual(created);
    await fresh.publish({ topic: 'orders', payload: 'low', priority: 1 });
    await fresh.publish({ topic: 'orders', payload: 'high', priority: 9 });
    const received = await fresh.receive('orders', 'pull', 2, 0);
    expect(received.map((delivery) => delivery.message.payload)).toEqual(['high', 'low']);
  });
});
