import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import { encodeDeliveryId } from '../../queues/delivery/consumer.js';
import type { Engine } from '../../queues/engine/engine.js';
import type { CreateQueueInput } from '../../queues/registry/registry.js';
import {
  deadLetters,
  eventually,
  expectRefusal,
  FAST_RETRY,
  settledStats,
  useEngineHarness,
} from './harness.js';

const harness = useEngineHarness();
const PULL = { topic: 'orders', name: 'pull' } as const;

async function consumerTopic(settings: Partial<CreateQueueInput> = {}) {
  const engine = await harness.engine();
  await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
  await engine.createQueue({ ...PULL, target: 'CONSUMER', ...settings });
  return engine;
}

/** Receives exactly one delivery or fails the test. */
async function receiveOne(engine: Engine, waitMs = 2000) {
  const [delivery, ...more] = await engine.receive('orders', 'pull', 1, waitMs);
  if (!delivery) throw new Error(`nothing to receive within ${waitMs} ms`);
  expect(more).toEqual([]);
  return delivery;
}

describe('receive', () => {
  it('should answer up to max deliveries and [] when the queue is empty', async () => {
    const engine = await consumerTopic();
    const { length } = await engine.publishBatch(
      Array.from({ length: 5 }, (_, n) => ({ topic: 'orders', payload: n })),
    );
    expect(length).toBe(5);

    const first = await engine.receive('orders', 'pull', 3, 0);
    const rest = await engine.receive('orders', 'pull', 10, 0);
    const none = await engine.receive('orders', 'pull', 10, 0);

    expect(first).toHaveLength(3);
    expect(rest).toHaveLength(2);
    expect(none).toEqual([]);
    expect(new Set([...first, ...rest].map((delivery) => delivery.message.payload))).toEqual(
      new Set([0, 1, 2, 3, 4]),
    );
    expect(first.every((delivery) => delivery.attempt === 1 && delivery.queue === 'pull')).toBe(true);
    expect(await engine.queueStats(PULL)).toMatchObject({ waiting: 0, active: 5 });
  });

  it("should answer a full batch in the queue's order: priority first, then first in first out", async () => {
    const engine = await consumerTopic();
    const inputs = Array.from({ length: 150 }, (_, n) => ({
      topic: 'orders',
      payload: n,
      priority: n % 3 === 0 ? 5 : 0,
    }));
    await engine.publishBatch(inputs);
    const received = await engine.receive('orders', 'pull', 100, 0);
    const rest = await engine.receive('orders', 'pull', 100, 0);
    const expected = [
      ...inputs.filter((input) => input.priority === 5),
      ...inputs.filter((input) => input.priority === 0),
    ].map((input) => input.payload);
    expect(received.map((delivery) => delivery.message.payload)).toEqual(expected.slice(0, 100));
    expect(rest.map((delivery) => delivery.message.payload)).toEqual(expected.slice(100));
    expect(new Set([...received, ...rest].map((delivery) => delivery.id)).size).toBe(150);
  });

  it('should skip expired messages among live ones, dead-letter them, and still fill the batch', async () => {
    const engine = await consumerTopic();
    const inputs = Array.from({ length: 12 }, (_, n) => ({
      topic: 'orders',
      payload: n,
      ...(n % 3 === 1 ? { ttlMs: 100 } : {}),
    }));
    await engine.publishBatch(inputs);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const live = inputs.filter((input) => !('ttlMs' in input)).map((input) => input.payload);

    const received = await engine.receive('orders', 'pull', 6, 0);
    const rest = await engine.receive('orders', 'pull', 10, 0);
    expect(received.map((delivery) => delivery.message.payload)).toEqual(live.slice(0, 6));
    expect(rest.map((delivery) => delivery.message.payload)).toEqual(live.slice(6));
    const dead = await deadLetters(harness.bullQueue(engine, 'orders', 'pull'));
    expect(dead.map((letter) => Number(letter.message.payload)).sort((a, b) => a - b)).toEqual([1, 4, 7, 10]);
  });

  it('should hand out what it took when a later take fails, and throw when nothing was taken', async () => {
    const engine = await consumerTopic();
    const published = await engine.publishBatch(
      Array.from({ length: 3 }, (_, n) => ({ topic: 'orders', payload: n })),
    );
    const queue = harness.bullQueue(engine, 'orders', 'pull');
    const client = await queue.client;
    // A job whose data is no longer JSON makes BullMQ's fetch of it throw.
    const corrupt = (messageId = '') => client.hset(queue.toKey(messageId), { data: '{not json' });

    await corrupt(published[1]?.messageId);
    // Rounds of 1, then 2: the first take succeeds, the second round fails on message 1 and takes 2.
    const partial = await engine.receive('orders', 'pull', 10, 0);
    expect(partial.map((delivery) => delivery.message.payload)).toEqual([0, 2]);

    const more = await engine.publish({ topic: 'orders', payload: 3 });
    await corrupt(more.messageId);
    await expect(engine.receive('orders', 'pull', 1, 0)).rejects.toThrow(/JSON/);
  });

  it('should wait up to waitMs for a message published meanwhile', async () => {
    const engine = await consumerTopic();
    const startedAt = Date.now();
    const receiving = engine.receive('orders', 'pull', 5, 5000);
    const published = new Promise<string>((resolve, reject) => {
      setTimeout(() => {
        engine
          .publish({ topic: 'orders', payload: 'late' })
          .then((result) => resolve(result.messageId), reject);
      }, 200);
    });

    const [deliveries, messageId] = await Promise.all([receiving, published]);

    expect(deliveries.map((delivery) => delivery.message.id)).toEqual([messageId]);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(200);
    expect(Date.now() - startedAt).toBeLessThan(5000);
  });

  it('should answer [] after waitMs when nothing arrives', async () => {
    const engine = await consumerTopic();
    const startedAt = Date.now();
    expect(await engine.receive('orders', 'pull', 1, 300)).toEqual([]);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
  });

  it('should refuse bad arguments, webhook queues and unknown queues', async () => {
    const engine = await consumerTopic();
    await engine.createQueue({
      topic: 'orders',
      name: 'hook',
      target: 'WEBHOOK',
      url: 'http://127.0.0.1:9/hook',
    });
    await engine.pauseQueue('orders', 'hook');
    await engine.publish({ topic: 'orders', payload: 1 });

    await expectRefusal(engine.receive('orders', 'pull', 0, 0), ErrorCode.BadUserInput, /max/);
    await expectRefusal(engine.receive('orders', 'pull', 1, -1), ErrorCode.BadUserInput, /waitMs/);
    await expectRefusal(engine.receive('orders', 'hook', 1, 0), ErrorCode.BadUserInput, /webhook/);
    await expectRefusal(engine.receive('orders', 'nope', 1, 0), ErrorCode.NotFound);
    await expectRefusal(engine.receive('nope', 'pull', 1, 0), ErrorCode.NotFound);
    expect(await engine.queueStats(PULL)).toMatchObject({ waiting: 1, active: 0 });
  });
});

describe('ack', () => {
  it('should complete the delivery', async () => {
    const engine = await consumerTopic();
    await engine.publish({ topic: 'orders', payload: 1 });
    const delivery = await receiveOne(engine);
    expect(await engine.queueStats(PULL)).toMatchObject({ active: 1, completed: 0 });

    expect(await engine.ack(delivery.id)).toBe(true);

    expect(await engine.queueStats(PULL)).toMatchObject({ waiting: 0, active: 0, completed: 1, failed: 0 });
  });

  it('should answer NOT_FOUND or BAD_USER_INPUT for ids it cannot ack, changing nothing', async () => {
    const engine = await consumerTopic();
    await engine.publish({ topic: 'orders', payload: 1 });
    await engine.publish({ topic: 'orders', payload: 2 });
    const acked = await receiveOne(engine);
    await engine.ack(acked.id);
    const open = await receiveOne(engine);
    const before = await settledStats(engine, PULL);
    expect(before).toMatchObject({ active: 1, completed: 1 });
    const jobId = open.id.split('~')[2] ?? '';

    await expectRefusal(engine.ack(acked.id), ErrorCode.NotFound);
    await expectRefusal(
      engine.ack(encodeDeliveryId('orders', 'pull', 'no-such-job', 'token')),
      ErrorCode.NotFound,
    );
    await expectRefusal(
      engine.ack(encodeDeliveryId('orders', 'pull', jobId, 'stolen-token')),
      ErrorCode.NotFound,
    );
    await expectRefusal(engine.ack(encodeDeliveryId('orders', 'nope', jobId, 'token')), ErrorCode.NotFound);
    await expectRefusal(engine.ack('garbage'), ErrorCode.BadUserInput, /deliveryId/);
    await expectRefusal(engine.ack(''), ErrorCode.BadUserInput);
    await expectRefusal(engine.nack(acked.id), ErrorCode.NotFound);
    await expectRefusal(engine.nack('garbage'), ErrorCode.BadUserInput);

    expect(await settledStats(engine, PULL)).toEqual(before);
    // The open delivery survived every refused attempt on it.
    expect(await engine.ack(open.id)).toBe(true);
    expect(await engine.queueStats(PULL)).toMatchObject({ active: 0, completed: 2 });
  });
});

describe('nack', () => {
  it('should retry under the policy after the backoff, then dead-letter after maxAttempts', async () => {
    const engine = await consumerTopic({
      retry: { ...FAST_RETRY, delayMs: 150, maxDelayMs: 150, maxAttempts: 3 },
    });
    const { messageId } = await engine.publish({ topic: 'orders', payload: 1 });

    const first = await receiveOne(engine);
    const nackedAt = Date.now();
    expect(await engine.nack(first.id, 'PROCESSING', 'db down')).toBe(true);
    expect(await engine.receive('orders', 'pull', 1, 0)).toEqual([]);
    expect(await engine.queueStats(PULL)).toMatchObject({ delayed: 1, active: 0 });

    const second = await receiveOne(engine);
    expect(Date.now() - nackedAt).toBeGreaterThanOrEqual(150);
    expect(second).toMatchObject({ attempt: 2, message: { id: messageId } });
    expect(second.id).not.toBe(first.id);
    await engine.nack(second.id, 'TIMEOUT', 'too slow');
    const third = await receiveOne(engine);
    expect(third.attempt).toBe(3);
    await engine.nack(third.id);

    const [dead] = await deadLetters(harness.bullQueue(engine, 'orders', 'pull'));
    expect(dead?.history.map(({ attempt, reason, error }) => ({ attempt, reason, error }))).toEqual([
      { attempt: 1, reason: 'PROCESSING', error: 'db down' },
      { attempt: 2, reason: 'TIMEOUT', error: 'too slow' },
      { attempt: 3, reason: 'PROCESSING', error: 'rejected by the consumer' },
    ]);
    expect(await engine.queueStats(PULL)).toMatchObject({ failed: 1, delayed: 0, waiting: 0, active: 0 });
    expect(await engine.receive('orders', 'pull', 1, 300)).toEqual([]);
  });

  it('should dead-letter at once on a REJECTED nack', async () => {
    const engine = await consumerTopic({ retry: { ...FAST_RETRY, maxAttempts: 5 } });
    await engine.publish({ topic: 'orders', payload: 1 });
    const delivery = await receiveOne(engine);

    await engine.nack(delivery.id, 'REJECTED', 'malformed order');

    const [dead] = await deadLetters(harness.bullQueue(engine, 'orders', 'pull'));
    expect(dead?.failedReason).toBe('REJECTED: malformed order');
    expect(dead?.history).toMatchObject([{ attempt: 1, reason: 'REJECTED', error: 'malformed order' }]);
    expect(await engine.queueStats(PULL)).toMatchObject({ failed: 1, delayed: 0, waiting: 0 });
  });

  it('should wait exactly retryAfterMs when the consumer names it', async () => {
    const engine = await consumerTopic({ retry: { ...FAST_RETRY, maxAttempts: 3 } });
    await engine.publish({ topic: 'orders', payload: 1 });
    const first = await receiveOne(engine);
    const nackedAt = Date.now();

    await engine.nack(first.id, null, null, 400);

    const second = await receiveOne(engine, 3000);
    expect(Date.now() - nackedAt).toBeGreaterThanOrEqual(400);
    expect(second.attempt).toBe(2);
  });
});

describe('visibility timeout', () => {
  it('should bring an unacked delivery back after ackTimeoutMs, with the old delivery id dead', async () => {
    const engine = await consumerTopic({ ackTimeoutMs: 200 });
    const { messageId } = await engine.publish({ topic: 'orders', payload: 1 });
    // Taken before the receive, so it is no later than the moment the lock was set.
    const receivedAt = Date.now();
    const first = await receiveOne(engine);
    expect(Date.parse(first.deliverBy) - Date.now()).toBeLessThanOrEqual(200);

    const again = await eventually(
      () => engine.receive('orders', 'pull', 1, 0).then(([delivery]) => delivery),
      {
        message: 'the unacked delivery never came back',
      },
    );

    expect(Date.now() - receivedAt).toBeGreaterThanOrEqual(200);
    expect(again).toMatchObject({ attempt: 2, message: { id: messageId } });
    await expectRefusal(engine.ack(first.id), ErrorCode.NotFound);
    expect(await engine.ack(again.id)).toBe(true);
    expect(await engine.queueStats(PULL)).toMatchObject({ completed: 1, active: 0, waiting: 0, failed: 0 });
  });
});
