import { describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { waitFor } from '../helpers/redis.js';
import { eventually, FAST_RETRY, useEngineHarness } from './harness.js';

/**
 * A message's job stores its options without `jobId` and `removeOnFail` (queues/redis/bull-add.ts);
 * jobs stored before carry both. Each reader of a stored job must read both forms the same.
 */
const harness = useEngineHarness();

/** Rewrites a stored job's options to the form published jobs had before: with jobId and removeOnFail: false. */
async function storeOldOptions(engine: Engine, topic: string, queue: string, jobId: string): Promise<void> {
  const client = harness.redis.client();
  const key = harness.bullQueue(engine, topic, queue).toKey(jobId);
  const { attempts, ...rest } = JSON.parse((await client.hget(key, 'opts')) ?? '{}') as Record<
    string,
    unknown
  >;
  expect(rest).not.toHaveProperty('jobId');
  expect(rest).not.toHaveProperty('removeOnFail');
  await client.hset(key, 'opts', JSON.stringify({ attempts, jobId, ...rest, removeOnFail: false }));
}

describe('jobs stored with the options of before (jobId, removeOnFail: false)', () => {
  it('should be received, looked up, traced, dead-lettered and replayed as new ones are', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({
      topic: 'orders',
      name: 'pull',
      target: 'CONSUMER',
      retry: { maxAttempts: 1 },
    });
    const { messageId, message } = await engine.publish({ topic: 'orders', payload: { n: 1 }, by: 'k' });
    await storeOldOptions(engine, 'orders', 'pull', messageId);

    const [delivery] = await engine.receive('orders', 'pull', 1, 2_000);
    expect(delivery?.message).toEqual(message);
    expect(await engine.message('orders', messageId)).toEqual(message);
    expect((await engine.messageTrail('orders', messageId)).map((entry) => entry.action)).toEqual([
      'PUBLISHED',
    ]);

    // Its final failure keeps it, as a dead letter, as removeOnFail: false always did.
    await engine.nack(delivery?.id ?? '', 'REJECTED', 'no');
    const id = `orders/pull/${messageId}`;
    const dead = await eventually(() => engine.deadLetters.get(id));
    expect(dead.message).toEqual(message);

    await engine.deadLetters.replay(id, { by: 'ops' });
    const [again] = await engine.receive('orders', 'pull', 1, 2_000);
    expect(again?.message.id).toBe(messageId);
    expect(again?.message.payload).toEqual({ n: 1 });
    expect((await engine.messageTrail('orders', messageId)).map((entry) => entry.action)).toEqual([
      'PUBLISHED',
      'REPLAYED',
    ]);
    await engine.ack(again?.id ?? '');
  });

  it('should be delivered by webhook with the same body, and retried by its attempts', async () => {
    const engine = await harness.engine();
    const receiver = await harness.receiver();
    receiver.respond = (index) => ({ status: index === 0 ? 500 : 204 });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const queue = await engine.createQueue({
      topic: 'orders',
      name: 'hook',
      target: 'WEBHOOK',
      url: receiver.url,
      retry: { ...FAST_RETRY, maxAttempts: 2 },
    });
    // Delayed, so its options are rewritten before a worker takes it.
    const { messageId, message } = await engine.publish({ topic: 'orders', payload: { n: 2 }, delayMs: 500 });
    await storeOldOptions(engine, 'orders', 'hook', messageId);

    const second = await eventually(() => receiver.requests[1], { timeoutMs: 5_000 });
    expect(JSON.parse(second.body)).toEqual(message);
    expect(receiver.requests[0]?.body).toBe(second.body);
    await waitFor(async () => (await engine.queueStats(queue)).completed === 1);
  });
});
