import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import type { CreateQueueInput } from '../../queues/registry/registry.js';
import { waitFor } from '../helpers/redis.js';
import { deadLetters, expectRefusal, firstDeadLetter, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

async function consumerTopic(topic = 'orders', queue: Partial<CreateQueueInput> = {}) {
  const engine = await harness.engine();
  await engine.createTopic({ name: topic, kind: 'FANOUT' });
  await engine.createQueue({ topic, name: 'pull', target: 'CONSUMER', ...queue });
  return engine;
}

describe('priority', () => {
  it('should hand out a higher priority message published later before a lower one', async () => {
    const engine = await consumerTopic();
    const low = await engine.publish({ topic: 'orders', payload: 'low', priority: 1 });
    const plain = await engine.publish({ topic: 'orders', payload: 'default' });
    const high = await engine.publish({ topic: 'orders', payload: 'high', priority: 9 });
    const middle = await engine.publish({ topic: 'orders', payload: 'middle', priority: 5 });

    const received: string[] = [];
    for (let i = 0; i < 4; i++) {
      const [delivery] = await engine.receive('orders', 'pull', 1, 1000);
      received.push(delivery?.message.id ?? 'none');
    }

    expect(received).toEqual([high.messageId, middle.messageId, low.messageId, plain.messageId]);
  });

  it('should count every priority above maxPriority as maxPriority, first in first out among them', async () => {
    const engine = await consumerTopic('orders', { maxPriority: 3 });
    expect((await engine.queue('orders', 'pull'))?.maxPriority).toBe(3);
    for (const priority of [0, 9, 2, 3, 5, 1]) {
      await engine.publish({ topic: 'orders', payload: priority, priority });
    }

    const received = await engine.receive('orders', 'pull', 6, 0);

    // 9, 3 and 5 all count as 3 and keep their publish order; then 2, 1 and 0.
    expect(received.map((delivery) => delivery.message.payload)).toEqual([9, 3, 5, 2, 1, 0]);
    // The message keeps the priority it was published with; only the queue's order caps it.
    expect(received.map((delivery) => delivery.message.priority)).toEqual([9, 3, 5, 2, 1, 0]);
  });

  it("should serve a FIFO queue (maxPriority 0) in publish order from BullMQ's wait list", async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'orders', name: 'fifo', target: 'CONSUMER', maxPriority: 0 });
    await engine.createQueue({ topic: 'orders', name: 'ranked', target: 'CONSUMER' });
    const priorities = [0, 9, 4, 0, 7, 1];
    await engine.publishBatch(priorities.map((priority, n) => ({ topic: 'orders', payload: n, priority })));
    await engine.publish({ topic: 'orders', payload: priorities.length, priority: 8 });

    const counts = async (name: string) => {
      const queue = harness.bullQueue(engine, 'orders', name);
      return {
        wait: await queue.getJobCountByTypes('wait'),
        prioritized: await queue.getJobCountByTypes('prioritized'),
      };
    };
    expect(await counts('fifo')).toEqual({ wait: 7, prioritized: 0 });
    expect(await counts('ranked')).toEqual({ wait: 0, prioritized: 7 });

    const fifo = await engine.receive('orders', 'fifo', 10, 0);
    const ranked = await engine.receive('orders', 'ranked', 10, 0);
    expect(fifo.map((delivery) => delivery.message.payload)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(ranked.map((delivery) => delivery.message.payload)).toEqual([1, 6, 4, 2, 5, 0, 3]);
  });
});

describe('delayMs', () => {
  it('should keep a delayed message out of reach until its delay has passed', async () => {
    const engine = await consumerTopic();
    const publishedAt = Date.now();
    const { messageId } = await engine.publish({ topic: 'orders', payload: 1, delayMs: 400 });

    expect(await engine.receive('orders', 'pull', 1, 0)).toEqual([]);
    expect(await engine.queueStats({ topic: 'orders', name: 'pull' })).toMatchObject({
      delayed: 1,
      waiting: 0,
    });

    const [delivery] = await engine.receive('orders', 'pull', 1, 3000);
    expect(delivery?.message.id).toBe(messageId);
    expect(Date.now() - publishedAt).toBeGreaterThanOrEqual(400);
  });
});

describe('ttlMs', () => {
  it('should never hand out a consumer message past its TTL, dead-lettering it as EXPIRED', async () => {
    const engine = await consumerTopic();
    const { message } = await engine.publish({ topic: 'orders', payload: 1, ttlMs: 150 });
    const expiresAt = Date.parse(message?.expiresAt ?? '');
    expect(expiresAt - Date.parse(message?.publishedAt ?? '')).toBe(150);
    await waitFor(() => Date.now() > expiresAt, { message: 'the TTL did not pass' });

    expect(await engine.receive('orders', 'pull', 10, 0)).toEqual([]);

    const [dead, ...others] = await deadLetters(harness.bullQueue(engine, 'orders', 'pull'));
    expect(others).toEqual([]);
    expect(dead?.message.id).toBe(message?.id);
    expect(dead?.failedReason).toMatch(/^EXPIRED: /);
    expect(dead?.history.map((attempt) => attempt.reason)).toEqual(['EXPIRED']);
    expect(await engine.queueStats({ topic: 'orders', name: 'pull' })).toMatchObject({
      waiting: 0,
      failed: 1,
    });
  });

  it('should never deliver a webhook message past its TTL, even once its paused queue resumes', async () => {
    const engine = await harness.engine();
    const receiver = await harness.receiver();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'orders', name: 'hook', target: 'WEBHOOK', url: receiver.url });
    await engine.pauseQueue('orders', 'hook');
    const { message } = await engine.publish({ topic: 'orders', payload: 1, ttlMs: 150 });
    await waitFor(() => Date.now() > Date.parse(message?.expiresAt ?? ''), {
      message: 'the TTL did not pass',
    });

    await engine.resumeQueue('orders', 'hook');

    const queue = harness.bullQueue(engine, 'orders', 'hook');
    const dead = await firstDeadLetter(queue);
    expect(dead.message.id).toBe(message?.id);
    expect(dead.failedReason).toMatch(/^EXPIRED: /);
    expect(dead.history.map((attempt) => attempt.reason)).toEqual(['EXPIRED']);
    expect(receiver.requests).toEqual([]);
  });
});

describe('message fields', () => {
  it('should keep headers, correlationId, replyTo and idempotencyKey on the message', async () => {
    const engine = await consumerTopic();
    const fields = {
      headers: { tenant: 'acme', 'x-trace': 'abc' },
      correlationId: 'corr-1',
      replyTo: 'replies',
      idempotencyKey: 'idem-1',
    };
    const { message } = await engine.publish({
      topic: 'orders',
      payload: { a: 1 },
      routingKey: 'rk',
      ...fields,
    });

    const [delivery] = await engine.receive('orders', 'pull', 1, 1000);
    expect(message).toMatchObject({ ...fields, routingKey: 'rk', topic: 'orders', priority: 0 });
    expect(delivery?.message).toEqual(message);
  });

  it('should refuse headers that are not a flat object of strings and enqueue nothing', async () => {
    const engine = await consumerTopic();
    for (const headers of [{ n: 1 }, { nested: { a: 'b' } }, { nothing: null }, ['a'], 'a=b']) {
      await expectRefusal(
        engine.publish({ topic: 'orders', payload: 1, headers }),
        ErrorCode.BadUserInput,
        /headers/,
      );
    }
    expect(await engine.topicStats('orders')).toMatchObject({ published: 0 });
    expect(await engine.queueStats({ topic: 'orders', name: 'pull' })).toMatchObject({ waiting: 0 });
  });

  it('should hash the canonical JSON of the payload with SHA-256, whatever the key order', async () => {
    const engine = await consumerTopic();
    // Keys sorted at every depth, arrays kept in order, no whitespace, UTF-8 (é is two bytes).
    const canonical = '{"a":{"c":"é","d":[1,{"x":1,"y":2}]},"b":null}';
    const expected = createHash('sha256').update(canonical, 'utf8').digest('hex');

    const first = await engine.publish({
      topic: 'orders',
      payload: { b: null, a: { d: [1, { y: 2, x: 1 }], c: 'é' } },
    });
    const second = await engine.publish({
      topic: 'orders',
      payload: { a: { c: 'é', d: [1, { x: 1, y: 2 }] }, b: null },
    });
    const other = await engine.publish({
      topic: 'orders',
      payload: { a: { c: 'é', d: [{ x: 1, y: 2 }, 1] }, b: null },
    });

    expect(first.message?.sha256).toBe(expected);
    expect(second.message?.sha256).toBe(expected);
    expect(other.message?.sha256).not.toBe(expected);
    expect(first.message?.sizeBytes).toBe(Buffer.byteLength(canonical, 'utf8'));
    expect(first.message?.sizeBytes).toBe(canonical.length + 1);
  });
});
