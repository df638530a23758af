import { describe, expect, it } from 'vitest';
import type { CreateQueueInput } from '../../queues/registry/registry.js';
import { headerOf } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';
import { FAST_RETRY, firstDeadLetter, gaps, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

async function webhookTopic(settings: Partial<CreateQueueInput>) {
  const engine = await harness.engine();
  const receiver = await harness.receiver();
  await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
  await engine.createQueue({
    topic: 'orders',
    name: 'hook',
    target: 'WEBHOOK',
    url: receiver.url,
    ...settings,
  });
  return { engine, receiver };
}

describe('webhook retries', () => {
  it('should retry a failing endpoint with exponential backoff and deliver on attempt 4', async () => {
    const { engine, receiver } = await webhookTopic({
      retry: { maxAttempts: 5, backoff: 'EXPONENTIAL', delayMs: 100, maxDelayMs: 10_000, jitter: false },
    });
    receiver.respond = (index) => (index < 3 ? { status: 500, body: `boom ${index + 1}` } : { status: 204 });
    const { messageId } = await engine.publish({ topic: 'orders', payload: 1 });

    await waitFor(async () => (await engine.queueStats({ topic: 'orders', name: 'hook' })).completed === 1, {
      message: 'the fourth attempt did not complete',
    });

    expect(receiver.requests).toHaveLength(4);
    const [first, second, third] = gaps(receiver.requests.map((request) => request.at));
    expect(first).toBeGreaterThanOrEqual(100);
    expect(second).toBeGreaterThanOrEqual(200);
    expect(third).toBeGreaterThanOrEqual(400);
    // The webhook-id is the message id on every attempt, so a receiver can dedupe retries.
    expect(receiver.requests.map((request) => headerOf(request, 'webhook-id'))).toEqual(
      Array(4).fill(messageId),
    );
    expect(receiver.requests.map((request) => headerOf(request, 'x-switchyard-attempt'))).toEqual([
      '1',
      '2',
      '3',
      '4',
    ]);
    expect(await engine.queueStats({ topic: 'orders', name: 'hook' })).toMatchObject({
      failed: 0,
      delayed: 0,
    });
  });

  it('should dead-letter after maxAttempts with every attempt in the history', async () => {
    const { engine, receiver } = await webhookTopic({ retry: { ...FAST_RETRY, maxAttempts: 3 } });
    receiver.respond = (index) => ({ status: 500 + index, body: `down ${index + 1}` });
    const { messageId } = await engine.publish({ topic: 'orders', payload: 1 });

    const queue = harness.bullQueue(engine, 'orders', 'hook');
    const dead = await firstDeadLetter(queue);

    expect(dead.message.id).toBe(messageId);
    expect(dead.attemptsMade).toBe(3);
    expect(dead.failedReason).toBe('PROCESSING: HTTP 502: down 3');
    expect(dead.history.map(({ attempt, reason, error }) => ({ attempt, reason, error }))).toEqual([
      { attempt: 1, reason: 'PROCESSING', error: 'HTTP 500: down 1' },
      { attempt: 2, reason: 'PROCESSING', error: 'HTTP 501: down 2' },
      { attempt: 3, reason: 'PROCESSING', error: 'HTTP 502: down 3' },
    ]);
    expect(dead.history.every((attempt) => !Number.isNaN(Date.parse(attempt.at)))).toBe(true);
    expect(receiver.requests).toHaveLength(3);
    expect(await engine.topicStats('orders')).toMatchObject({ deadLettered: 1 });
  });

  it('should wait at least as long as a 429 Retry-After asks before the next attempt', async () => {
    const { engine, receiver } = await webhookTopic({ retry: { ...FAST_RETRY, maxAttempts: 3 } });
    receiver.respond = (index) =>
      index === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 };
    await engine.publish({ topic: 'orders', payload: 1 });

    await waitFor(() => receiver.requests.length === 2, { message: 'the retry after 429 never came' });

    const [gap] = gaps(receiver.requests.map((request) => request.at));
    expect(gap).toBeGreaterThanOrEqual(1000);
    await waitFor(async () => (await engine.queueStats({ topic: 'orders', name: 'hook' })).completed === 1);
  });

  it('should give messages published after updateQueue its new maxAttempts', async () => {
    const { engine, receiver } = await webhookTopic({ retry: { ...FAST_RETRY, maxAttempts: 2 } });
    await engine.updateQueue('orders', 'hook', { retry: { maxAttempts: 4 } });
    receiver.respond = () => ({ status: 503 });
    await engine.publish({ topic: 'orders', payload: 1 });

    const queue = harness.bullQueue(engine, 'orders', 'hook');
    const dead = await firstDeadLetter(queue);

    expect(dead.attemptsMade).toBe(4);
    expect(receiver.requests).toHaveLength(4);
  });
});
