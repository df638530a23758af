import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import { reasonOf } from '../../queues/delivery/attempt-history.js';
import { headerOf } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';
import { expectRefusal, FAST_RETRY, firstDeadLetter, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

describe('AT_MOST_ONCE', () => {
  it('should make one attempt: a 500 goes straight to the failed set', async () => {
    const engine = await harness.engine();
    const receiver = await harness.receiver();
    receiver.respond = () => ({ status: 500 });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const queue = await engine.createQueue({
      topic: 'orders',
      name: 'hook',
      target: 'WEBHOOK',
      url: receiver.url,
      deliveryMode: 'AT_MOST_ONCE',
      retry: { ...FAST_RETRY },
    });
    expect(queue.retry.maxAttempts).toBe(1);
    await engine.publish({ topic: 'orders', payload: 1 });

    const bull = harness.bullQueue(engine, 'orders', 'hook');
    const dead = await firstDeadLetter(bull);

    expect(dead.failedReason).toBe('PROCESSING: HTTP 500');
    expect(dead.history).toMatchObject([{ attempt: 1, reason: 'PROCESSING' }]);
    expect(receiver.requests).toHaveLength(1);
    expect(await engine.queueStats(queue)).toMatchObject({ failed: 1, delayed: 0, waiting: 0 });
  });

  it('should fail, never redeliver, a consumer delivery left unacked past its deadline', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const queue = await engine.createQueue({
      topic: 'orders',
      name: 'pull',
      target: 'CONSUMER',
      deliveryMode: 'AT_MOST_ONCE',
      ackTimeoutMs: 150,
    });
    await engine.publish({ topic: 'orders', payload: 1 });
    const [delivery] = await engine.receive('orders', 'pull', 1, 1000);
    expect(delivery?.attempt).toBe(1);

    // BullMQ fails an over-stalled job when it is next fetched, so keep receiving until it is failed.
    const redelivered: unknown[] = [];
    await waitFor(
      async () => {
        redelivered.push(...(await engine.receive('orders', 'pull', 1, 0)));
        return (await engine.queueStats(queue)).failed === 1;
      },
      { message: 'the stalled at-most-once delivery was not failed' },
    );

    expect(redelivered).toEqual([]);
    expect(await engine.queueStats(queue)).toMatchObject({ waiting: 0, active: 0, failed: 1 });
    await expectRefusal(engine.ack(delivery?.id ?? ''), ErrorCode.NotFound);
    // The lapsed visibility timeout is the reason, and it is in the attempt history.
    const dead = await firstDeadLetter(harness.bullQueue(engine, 'orders', 'pull'));
    expect(reasonOf(dead.failedReason)).toBe('TIMEOUT');
    expect(dead.history).toMatchObject([{ attempt: 1, reason: 'TIMEOUT' }]);
  });

  it('should refuse an AT_MOST_ONCE queue asking for retries, creating nothing', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });

    await expectRefusal(
      engine.createQueue({
        topic: 'orders',
        name: 'pull',
        target: 'CONSUMER',
        deliveryMode: 'AT_MOST_ONCE',
        retry: { maxAttempts: 3 },
      }),
      ErrorCode.BadUserInput,
      /maxAttempts/,
    );

    expect(await engine.queue('orders', 'pull')).toBeNull();
    await engine.createQueue({
      topic: 'orders',
      name: 'pull',
      target: 'CONSUMER',
      deliveryMode: 'AT_MOST_ONCE',
    });
    await expectRefusal(
      engine.updateQueue('orders', 'pull', { retry: { maxAttempts: 2 } }),
      ErrorCode.BadUserInput,
      /maxAttempts/,
    );
    expect((await engine.queue('orders', 'pull'))?.retry.maxAttempts).toBe(1);
  });
});

describe('EXACTLY_ONCE', () => {
  it('should refuse a publish without an idempotencyKey, enqueueing nothing anywhere', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({
      topic: 'orders',
      name: 'once',
      target: 'CONSUMER',
      deliveryMode: 'EXACTLY_ONCE',
    });
    await engine.createQueue({ topic: 'orders', name: 'plain', target: 'CONSUMER' });

    await expectRefusal(
      engine.publish({ topic: 'orders', payload: 1 }),
      ErrorCode.BadUserInput,
      /idempotencyKey/,
    );

    for (const name of ['once', 'plain']) {
      expect(await engine.queueStats({ topic: 'orders', name })).toMatchObject({ waiting: 0 });
    }
    expect(await engine.topicStats('orders')).toMatchObject({ published: 0 });
  });

  it('should store a keyed publish once and keep its webhook-id stable across retries', async () => {
    const engine = await harness.engine();
    const receiver = await harness.receiver();
    receiver.respond = (index) => ({ status: index === 0 ? 500 : 204 });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const queue = await engine.createQueue({
      topic: 'orders',
      name: 'hook',
      target: 'WEBHOOK',
      url: receiver.url,
      deliveryMode: 'EXACTLY_ONCE',
      retry: { ...FAST_RETRY, maxAttempts: 3 },
    });

    const first = await engine.publish({ topic: 'orders', payload: { n: 1 }, idempotencyKey: 'order-1' });
    const again = await engine.publish({ topic: 'orders', payload: { n: 1 }, idempotencyKey: 'order-1' });

    expect(first).toMatchObject({ duplicate: false, routedTo: ['hook'] });
    expect(again).toMatchObject({ duplicate: true, messageId: first.messageId, routedTo: [] });
    await waitFor(async () => (await engine.queueStats(queue)).completed === 1);
    expect(receiver.requests.map((request) => headerOf(request, 'webhook-id'))).toEqual([
      first.messageId,
      first.messageId,
    ]);
    expect(await engine.topicStats('orders')).toMatchObject({ published: 1 });
  });
});
