import { describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { waitFor } from '../helpers/redis.js';
import { useEngineHarness } from './harness.js';

const harness = useEngineHarness();
const DEDUP_WINDOW_MS = 300;

async function twoTopics(): Promise<Engine> {
  const engine = await harness.engine({ dedupWindowMs: DEDUP_WINDOW_MS });
  for (const topic of ['orders', 'invoices']) {
    await engine.createTopic({ name: topic, kind: 'FANOUT' });
    await engine.createQueue({ topic, name: 'pull', target: 'CONSUMER' });
  }
  return engine;
}

const waiting = async (engine: Engine, topic: string) =>
  (await engine.queueStats({ topic, name: 'pull' })).waiting;

describe('idempotency keys', () => {
  it('should answer duplicate with the first id for the same key on the same topic, enqueueing nothing', async () => {
    const engine = await twoTopics();
    const first = await engine.publish({ topic: 'orders', payload: { v: 1 }, idempotencyKey: 'k' });
    // A different payload under the same key is still the same publish retried.
    const second = await engine.publish({ topic: 'orders', payload: { v: 2 }, idempotencyKey: 'k' });

    expect(first).toMatchObject({ duplicate: false, routedTo: ['pull'] });
    expect(second).toEqual({ messageId: first.messageId, duplicate: true, routedTo: [], message: null });
    expect(await waiting(engine, 'orders')).toBe(1);
    expect(await engine.topicStats('orders')).toMatchObject({ published: 1 });
    const [delivery] = await engine.receive('orders', 'pull', 10, 0);
    expect(delivery?.message.payload).toEqual({ v: 1 });
  });

  it('should treat the same key on another topic as independent', async () => {
    const engine = await twoTopics();
    const order = await engine.publish({ topic: 'orders', payload: 1, idempotencyKey: 'k' });
    const invoice = await engine.publish({ topic: 'invoices', payload: 1, idempotencyKey: 'k' });

    expect(invoice.duplicate).toBe(false);
    expect(invoice.messageId).not.toBe(order.messageId);
    expect([await waiting(engine, 'orders'), await waiting(engine, 'invoices')]).toEqual([1, 1]);
  });

  it('should publish the same key again once the dedup window has passed', async () => {
    const engine = await twoTopics();
    const startedAt = Date.now();
    const first = await engine.publish({ topic: 'orders', payload: 1, idempotencyKey: 'k' });
    expect((await engine.publish({ topic: 'orders', payload: 1, idempotencyKey: 'k' })).duplicate).toBe(true);

    await waitFor(() => Date.now() - startedAt > DEDUP_WINDOW_MS + 100, {
      message: 'the window did not pass',
    });
    const later = await engine.publish({ topic: 'orders', payload: 1, idempotencyKey: 'k' });

    expect(later.duplicate).toBe(false);
    expect(later.messageId).not.toBe(first.messageId);
    expect(await waiting(engine, 'orders')).toBe(2);
    expect((await engine.publish({ topic: 'orders', payload: 1, idempotencyKey: 'k' })).messageId).toBe(
      later.messageId,
    );
  });

  it('should store one of two racing publishes with the same key, never both', async () => {
    const engine = await twoTopics();
    const racing = Array.from({ length: 5 }, () =>
      engine.publish({ topic: 'orders', payload: 1, idempotencyKey: 'race' }),
    );
    const settled = await Promise.allSettled(racing);

    const stored = settled.flatMap((result) =>
      result.status === 'fulfilled' && !result.value.duplicate ? [result.value.messageId] : [],
    );
    expect(stored).toHaveLength(1);
    for (const result of settled) {
      // A loser either saw the winner's id or was told to retry while the winner was mid-publish.
      if (result.status === 'fulfilled') expect(result.value.messageId).toBe(stored[0]);
      else expect(result.reason).toMatchObject({ code: 'CONFLICT' });
    }
    expect(await waiting(engine, 'orders')).toBe(1);
  });

  it('should store a key repeated inside one batch once, and dedupe against earlier publishes', async () => {
    const engine = await twoTopics();
    const earlier = await engine.publish({ topic: 'orders', payload: 'e', idempotencyKey: 'old' });

    const results = await engine.publishBatch([
      { topic: 'orders', payload: 'a', idempotencyKey: 'a' },
      { topic: 'orders', payload: 'b', idempotencyKey: 'b' },
      { topic: 'orders', payload: 'a again', idempotencyKey: 'a' },
      { topic: 'orders', payload: 'old again', idempotencyKey: 'old' },
      { topic: 'orders', payload: 'no key' },
      { topic: 'invoices', payload: 'a elsewhere', idempotencyKey: 'a' },
    ]);

    expect(results.map((result) => result.duplicate)).toEqual([false, false, true, true, false, false]);
    expect(results[2]?.messageId).toBe(results[0]?.messageId);
    expect(results[3]?.messageId).toBe(earlier.messageId);
    expect(await waiting(engine, 'orders')).toBe(4);
    expect(await waiting(engine, 'invoices')).toBe(1);
    expect(await engine.topicStats('orders')).toMatchObject({ published: 4 });
    const payloads = (await engine.receive('orders', 'pull', 10, 0)).map(
      (delivery) => delivery.message.payload,
    );
    expect(payloads.sort()).toEqual(['a', 'b', 'e', 'no key']);
  });
});
