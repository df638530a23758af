import { describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { waitFor } from '../helpers/redis.js';
import { useEngineHarness } from './harness.js';

const harness = useEngineHarness();

/** Messages measured: enough that Redis' own noise (client buffers, ~100 KB) stays a few bytes a message. */
const N = 10_000;

async function usedMemory(): Promise<number> {
  const info = await harness.redis.client().info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
}

/** Every key that holds a message's provenance trail, by SCAN (never KEYS) over the whole database. */
async function trailKeys(): Promise<string[]> {
  const found: string[] = [];
  const stream = harness.redis.client().scanStream({ match: '*~trail:*', count: 1_000 });
  for await (const keys of stream) found.push(...(keys as string[]));
  return found;
}

/** Publishes `count` messages (by a named key), 100 at a time; answers their ids. */
async function publishMany(engine: Engine, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let sent = 0; sent < count; sent += 100) {
    const results = await Promise.all(
      Array.from({ length: Math.min(100, count - sent) }, (_, n) =>
        engine.publish({ topic: 'metrics', payload: { n: sent + n, at: 'x'.repeat(40) }, by: 'collector' }),
      ),
    );
    ids.push(...results.map((result) => result.messageId));
  }
  return ids;
}

/** Receives and acks `count` messages: acked, each job is removed (removeOnComplete). */
async function deliverAll(engine: Engine, count: number): Promise<void> {
  let acked = 0;
  while (acked < count) {
    const deliveries = await engine.receive('metrics', 'store', 100, 2_000);
    await Promise.all(deliveries.map((delivery) => engine.ack(delivery.id)));
    acked += deliveries.length;
  }
}

describe('provenance trail: what a plain publish costs in Redis', () => {
  it('should leave no key of its own: after delivery nothing per message is left, no ~trail: key at all', async () => {
    const engine = await harness.engine({ runWorkers: false });
    await engine.createTopic({ name: 'metrics', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'metrics', name: 'store', target: 'CONSUMER' });
    const client = harness.redis.client();
    const bull = harness.bullQueue(engine, 'metrics', 'store');
    // BullMQ's events stream is capped per queue (10,000 events), not kept per message: left out.
    const trimEvents = () => client.xtrim(bull.keys.events as string, 'MAXLEN', 0);
    await deliverAll(engine, (await publishMany(engine, 200)).length);
    await trimEvents();
    const keysBefore = new Set(await client.keys('*'));
    const before = await usedMemory();

    const ids = await publishMany(engine, N);
    // Waiting, each message costs its job (the measure sees bytes); delivered, it costs nothing.
    const waitingPerMessage = ((await usedMemory()) - before) / N;
    await deliverAll(engine, N);
    await waitFor(async () => {
      const counts = await bull.getJobCounts('waiting', 'active', 'prioritized', 'delayed', 'failed');
      return Object.values(counts).every((count) => count === 0);
    });
    await trimEvents();
    const perMessage = ((await usedMemory()) - before) / N;

    expect(await trailKeys()).toEqual([]);
    // New keys are per queue and time bucket (alert windows), never per message.
    const added = (await client.keys('*')).filter((key) => !keysBefore.has(key));
    expect(added.length).toBeLessThan(4);
    expect(added.filter((key) => ids.some((id) => key.includes(id)))).toEqual([]);
    // A trail key per publish measured 586 bytes each (docs/PERFORMANCE.md); now next to nothing.
    console.log(
      `used_memory per publish: ${waitingPerMessage.toFixed(0)} bytes waiting, ${perMessage.toFixed(1)} delivered`,
    );
    expect(waitingPerMessage).toBeGreaterThan(300);
    expect(Math.abs(perMessage)).toBeLessThan(32);
    expect(await engine.topicStats('metrics')).toMatchObject({ published: 200 + N });
  }, 60_000);

  it('should give a replayed message one trail key, holding only the steps after PUBLISHED', async () => {
    const engine = await harness.engine({ runWorkers: false });
    await engine.createTopic({ name: 'metrics', kind: 'FANOUT' });
    await engine.createQueue({
      topic: 'metrics',
      name: 'store',
      target: 'CONSUMER',
      retry: { maxAttempts: 1 },
    });
    const published = await Promise.all(
      [1, 2, 3].map((n) => engine.publish({ topic: 'metrics', payload: n, by: 'collector' })),
    );
    const [delivery] = await engine.receive('metrics', 'store', 1, 2_000);
    await engine.nack(delivery?.id ?? '', 'REJECTED', 'no');
    const id = delivery?.message.id ?? '';
    await waitFor(async () => (await engine.deadLetters.get(`metrics/store/${id}`)) !== null);
    expect(await trailKeys()).toEqual([]);

    await engine.deadLetters.replay(`metrics/store/${id}`, { by: 'ops' });
    const key = engine.keys.trail('metrics', id);
    expect(await trailKeys()).toEqual([key]);
    const stored = (await harness.redis.client().lrange(key, 0, -1)).map(
      (line) => JSON.parse(line) as { action: string },
    );
    expect(stored.map((entry) => entry.action)).toEqual(['REPLAYED']);
    expect(published.map((result) => result.messageId)).toContain(id);
  });
});
