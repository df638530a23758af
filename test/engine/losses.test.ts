import { describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/index.js';
import { waitFor } from '../helpers/redis.js';
import { useEngineHarness } from './harness.js';

const harness = useEngineHarness();
const METRIC = 'switchyard_messages_not_delivered_total';

/** The counter's value for these labels, from the engine's own Prometheus exposition (0 when absent). */
async function notDelivered(engine: Engine, labels: { topic: string; queue: string; reason: string }) {
  const wanted = `${METRIC}{topic="${labels.topic}",queue="${labels.queue}",reason="${labels.reason}"} `;
  const line = (await engine.metrics.render()).split('\n').find((candidate) => candidate.startsWith(wanted));
  return line ? Number(line.slice(wanted.length)) : 0;
}

describe('messages that reach no target without becoming dead letters are counted', () => {
  it('should count a publish that matched no queue, once, and not its duplicate', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'DIRECT' });
    await engine.createQueue({ topic: 'orders', name: 'eu', target: 'CONSUMER', bindingKey: 'eu' });
    await engine.publish({ topic: 'orders', routingKey: 'us', payload: 1, idempotencyKey: 'k' });
    await engine.publish({ topic: 'orders', routingKey: 'us', payload: 1, idempotencyKey: 'k' });
    await engine.publishBatch([
      { topic: 'orders', routingKey: 'us', payload: 2 },
      { topic: 'orders', routingKey: 'eu', payload: 3 },
    ]);
    expect(await notDelivered(engine, { topic: 'orders', queue: '', reason: 'unrouted' })).toBe(2);
    expect(await engine.topicStats('orders')).toMatchObject({ unrouted: 2 });
  });

  it('should count what a deleted queue held undelivered', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER' });
    for (let n = 0; n < 3; n++) await engine.publish({ topic: 'orders', payload: n });
    await engine.publish({ topic: 'orders', payload: 'later', delayMs: 60_000 });
    await engine.deleteQueue('orders', 'pull');
    expect(await notDelivered(engine, { topic: 'orders', queue: 'pull', reason: 'queue_deleted' })).toBe(4);
  });

  it('should count what a live messages stream dropped for a subscriber that did not read', async () => {
    const engine = await harness.engine({ live: { maxBufferedMessages: 2 } });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const stream = await engine.messages('orders');
    try {
      for (let n = 0; n < 5; n++) await engine.publish({ topic: 'orders', payload: n });
      await waitFor(
        async () =>
          (await notDelivered(engine, { topic: 'orders', queue: '', reason: 'live_dropped' })) === 3,
        {
          message: 'the stream did not count 3 dropped messages',
        },
      );
      const first = await stream.next();
      expect(first.value).toMatchObject({ payload: 3, droppedBefore: 3 });
    } finally {
      await stream.return?.();
    }
  });
});
