import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import { headerOf } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';
import { expectRefusal, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

describe('publishBatch', () => {
  it('should deliver each of 1000 batched messages to a webhook exactly once', async () => {
    const engine = await harness.engine();
    const receiver = await harness.receiver();
    await engine.createTopic({ name: 'bulk', kind: 'FANOUT' });
    await engine.createQueue({
      topic: 'bulk',
      name: 'hook',
      target: 'WEBHOOK',
      url: receiver.url,
      concurrency: 50,
    });
    const inputs = Array.from({ length: 1000 }, (_, n) => ({ topic: 'bulk', payload: { n } }));

    const results = await engine.publishBatch(inputs);

    expect(results).toHaveLength(1000);
    expect(results.every((result) => !result.duplicate && result.routedTo.join() === 'hook')).toBe(true);
    const published = new Set(results.map((result) => result.messageId));
    expect(published.size).toBe(1000);
    expect(results.map((result) => result.message?.payload)).toEqual(inputs.map((input) => input.payload));
    // Settled means every job is gone from waiting/active/delayed: nothing is left that could arrive twice.
    await waitFor(
      async () => {
        const stats = await engine.queueStats({ topic: 'bulk', name: 'hook' });
        return receiver.requests.length >= 1000 && stats.waiting + stats.active + stats.delayed === 0;
      },
      { timeoutMs: 25_000, message: `only ${receiver.requests.length} of 1000 deliveries arrived` },
    );
    const ids = receiver.requests.map((request) => headerOf(request, 'webhook-id'));
    expect(ids).toHaveLength(1000);
    expect(new Set(ids)).toEqual(published);
    expect(await engine.queueStats({ topic: 'bulk', name: 'hook' })).toMatchObject({
      completed: 1000,
      failed: 0,
    });
    expect(await engine.topicStats('bulk')).toEqual({ published: 1000, unrouted: 0, deadLettered: 0 });
  });

  it('should refuse a whole batch with one invalid entry, naming its index, and enqueue nothing', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'bulk', kind: 'FANOUT', maxMessageBytes: 100 });
    await engine.createQueue({ topic: 'bulk', name: 'pull', target: 'CONSUMER' });
    const valid = Array.from({ length: 10 }, (_, n) => ({ topic: 'bulk', payload: { n } }));

    const badPriority = valid.map((input, n) => (n === 7 ? { ...input, priority: 10 } : input));
    const refusal = await expectRefusal(
      engine.publishBatch(badPriority),
      ErrorCode.BadUserInput,
      /inputs\[7\].*priority/,
    );
    expect(refusal.details).toMatchObject({ index: 7, field: 'priority' });

    const tooLarge = valid.map((input, n) => (n === 3 ? { ...input, payload: 'x'.repeat(200) } : input));
    const large = await expectRefusal(
      engine.publishBatch(tooLarge),
      ErrorCode.PayloadTooLarge,
      /inputs\[3\]/,
    );
    expect(large.details).toMatchObject({ index: 3 });

    const unknownTopic = valid.map((input, n) => (n === 9 ? { ...input, topic: 'nope' } : input));
    await expectRefusal(engine.publishBatch(unknownTopic), ErrorCode.NotFound, /inputs\[9\].*nope/);

    expect(await engine.queueStats({ topic: 'bulk', name: 'pull' })).toMatchObject({
      waiting: 0,
      delayed: 0,
    });
    expect(await engine.topicStats('bulk')).toMatchObject({ published: 0 });
  });
});
