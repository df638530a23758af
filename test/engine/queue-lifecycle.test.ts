import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import { waitFor } from '../helpers/redis.js';
import { eventually, expectRefusal, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

describe('deleteQueue', () => {
  it("should remove the queue's messages, its BullMQ keys and its worker", async () => {
    const engine = await harness.engine();
    const receiver = await harness.receiver();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'orders', name: 'hook', target: 'WEBHOOK', url: receiver.url });
    await engine.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER' });
    await engine.pauseQueue('orders', 'hook');
    for (let n = 0; n < 3; n++) await engine.publish({ topic: 'orders', payload: n });
    const [open] = await engine.receive('orders', 'pull', 1, 1000);
    expect(engine.webhookWorkers).toBe(1);
    expect(await engine.queueStats({ topic: 'orders', name: 'hook' })).toMatchObject({ waiting: 3 });

    await engine.deleteQueue('orders', 'hook');
    await engine.deleteQueue('orders', 'pull');

    expect(engine.webhookWorkers).toBe(0);
    expect(await engine.queues('orders')).toEqual([]);
    const redis = harness.redis.client();
    for (const name of ['hook', 'pull']) {
      expect(await redis.keys(`${engine.keys.bullPrefix('orders')}:${name}:*`), name).toEqual([]);
    }
    await expectRefusal(engine.ack(open?.id ?? ''), ErrorCode.NotFound);
    await expectRefusal(engine.receive('orders', 'pull', 1, 0), ErrorCode.NotFound);
    expect((await engine.publish({ topic: 'orders', payload: 'after' })).routedTo).toEqual([]);

    // A queue re-created under the same name starts empty and delivers again.
    await engine.createQueue({ topic: 'orders', name: 'hook', target: 'WEBHOOK', url: receiver.url });
    expect(await engine.queueStats({ topic: 'orders', name: 'hook' })).toMatchObject({
      waiting: 0,
      paused: false,
    });
    const { messageId } = await engine.publish({ topic: 'orders', payload: 'again' });
    await waitFor(() => receiver.requests.length === 1);
    expect(receiver.requests[0]?.headers['webhook-id']).toBe(messageId);
  });

  it('should delete a topic once its queues are gone', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER' });
    await engine.deleteQueue('orders', 'pull');

    await engine.deleteTopic('orders');

    expect(await engine.topic('orders')).toBeNull();
    await expectRefusal(engine.publish({ topic: 'orders', payload: 1 }), ErrorCode.NotFound);
  });
});

describe('updateQueue', () => {
  it('should deliver the next message to a new url', async () => {
    const engine = await harness.engine();
    const before = await harness.receiver();
    const after = await harness.receiver();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'orders', name: 'hook', target: 'WEBHOOK', url: before.url });
    await engine.publish({ topic: 'orders', payload: 'first' });
    await waitFor(() => before.requests.length === 1);

    const updated = await engine.updateQueue('orders', 'hook', { url: after.url });
    const { messageId } = await engine.publish({ topic: 'orders', payload: 'second' });

    expect(updated.url).toBe(after.url);
    await waitFor(() => after.requests.length === 1, { message: 'the new url got nothing' });
    expect(after.requests[0]?.headers['webhook-id']).toBe(messageId);
    expect(before.requests).toHaveLength(1);
  });

  it('should keep settings it was not given and refuse bad ones without applying any', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'DIRECT' });
    const created = await engine.createQueue({
      topic: 'orders',
      name: 'pull',
      target: 'CONSUMER',
      bindingKey: 'k',
      concurrency: 3,
      retry: { maxAttempts: 7 },
    });

    const updated = await engine.updateQueue('orders', 'pull', { ackTimeoutMs: 1000 });
    await expectRefusal(
      engine.updateQueue('orders', 'pull', { concurrency: 5, bindingKey: null }),
      ErrorCode.BadUserInput,
    );

    expect(updated).toEqual({ ...created, ackTimeoutMs: 1000 });
    expect(await engine.queue('orders', 'pull')).toEqual(updated);
  });

  it('should apply a new ackTimeoutMs to the next delivery', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER', ackTimeoutMs: 1000 });
    await engine.publish({ topic: 'orders', payload: 1 });
    await engine.receive('orders', 'pull', 1, 1000).then(([delivery]) => engine.ack(delivery?.id ?? ''));

    await engine.updateQueue('orders', 'pull', { ackTimeoutMs: 200 });
    const { messageId } = await engine.publish({ topic: 'orders', payload: 2 });
    const [first] = await engine.receive('orders', 'pull', 1, 1000);

    // The visibility timeout is the job's BullMQ lock: it must now run out after 200 ms, not 1000.
    const lockTtl = await harness.redis
      .client()
      .pttl(`${engine.keys.bullPrefix('orders')}:pull:${messageId}:lock`);
    expect(lockTtl).toBeGreaterThan(0);
    expect(lockTtl).toBeLessThanOrEqual(200);
    expect(Date.parse(first?.deliverBy ?? '') - Date.now()).toBeLessThanOrEqual(200);
    const again = await eventually(
      () => engine.receive('orders', 'pull', 1, 0).then(([delivery]) => delivery),
      {
        message: 'the delivery did not come back after the new, shorter ackTimeoutMs',
      },
    );
    expect(again).toMatchObject({ attempt: 2, message: { id: messageId } });
  });
});
