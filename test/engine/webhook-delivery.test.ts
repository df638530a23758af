import { createHash } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../queues/core/types.js';
import type { Engine } from '../../queues/engine/engine.js';
import type { CreateQueueInput } from '../../queues/registry/registry.js';
import { headerOf, type ReceivedRequest } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';
import { eventually, FAST_RETRY, firstDeadLetter, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

async function webhookTopic(settings: Partial<CreateQueueInput> = {}) {
  const engine = await harness.engine();
  const receiver = await harness.receiver();
  await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
  const queue = await engine.createQueue({
    topic: 'orders',
    name: 'hook',
    target: 'WEBHOOK',
    url: receiver.url,
    ...settings,
  });
  return { engine, receiver, queue };
}

const deadLetter = (engine: Engine) => firstDeadLetter(harness.bullQueue(engine, 'orders', 'hook'));

const signatureHeaders = (request: ReceivedRequest) => ({
  'webhook-id': headerOf(request, 'webhook-id'),
  'webhook-timestamp': headerOf(request, 'webhook-timestamp'),
  'webhook-signature': headerOf(request, 'webhook-signature'),
});

describe('signed delivery', () => {
  it('should POST the message signed per Standard Webhooks with the queue signing secret', async () => {
    const { engine, receiver, queue } = await webhookTopic();
    const { message } = await engine.publish({
      topic: 'orders',
      payload: { total: 42 },
      correlationId: 'c-1',
    });
    const request = await eventually(() => receiver.requests[0]);

    expect(queue.signingSecret).toMatch(/^whsec_/);
    const verified = new Webhook(queue.signingSecret ?? '').verify(request.body, signatureHeaders(request));
    expect(verified).toEqual(message);
    expect(headerOf(request, 'webhook-id')).toBe(message?.id);
    expect(headerOf(request, 'content-type')).toBe('application/json');
    // The same headers must not vouch for another body or another secret.
    expect(() =>
      new Webhook(queue.signingSecret ?? '').verify(`${request.body} `, signatureHeaders(request)),
    ).toThrow();
    const otherSecret = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
    expect(() => new Webhook(otherSecret).verify(request.body, signatureHeaders(request))).toThrow();
    await waitFor(async () => (await engine.queueStats(queue)).completed === 1);
  });

  it('should deliver the payload as the canonical bytes its sha256 was computed over', async () => {
    const { engine, receiver } = await webhookTopic();
    const payload = { z: { y: 1, b: [{ d: 4, c: 3 }] }, a: 'é' };
    const { message } = await engine.publish({ topic: 'orders', payload });
    const request = await eventually(() => receiver.requests[0]);

    const canonical = '{"a":"é","z":{"b":[{"c":3,"d":4}],"y":1}}';
    expect(request.body).toContain(`"payload":${canonical},`);
    expect(createHash('sha256').update(canonical).digest('hex')).toBe(message?.sha256);
    // The publish answer holds the same canonical payload as every delivery.
    expect(JSON.stringify(message?.payload)).toBe(canonical);
    expect((JSON.parse(request.body) as MessageRecord).payload).toEqual(payload);
  });
});

describe('failure classification', () => {
  it('should dead-letter a 400 answer as REJECTED after exactly one attempt', async () => {
    const { engine, receiver } = await webhookTopic({ retry: { ...FAST_RETRY, maxAttempts: 5 } });
    receiver.respond = () => ({ status: 400, body: 'unknown order' });
    const { messageId } = await engine.publish({ topic: 'orders', payload: 1 });

    const dead = await deadLetter(engine);

    expect(dead.message.id).toBe(messageId);
    expect(dead.failedReason).toMatch(/^REJECTED: HTTP 400: unknown order/);
    expect(dead.attemptsMade).toBe(1);
    expect(dead.history).toMatchObject([
      { attempt: 1, reason: 'REJECTED', error: 'HTTP 400: unknown order' },
    ]);
    expect(receiver.requests).toHaveLength(1);
    expect(await engine.queueStats({ topic: 'orders', name: 'hook' })).toMatchObject({
      failed: 1,
      delayed: 0,
      waiting: 0,
      active: 0,
    });
    expect(await engine.topicStats('orders')).toMatchObject({ deadLettered: 1 });
  });

  it('should record TIMEOUT when the receiver answers later than ackTimeoutMs', async () => {
    const { engine, receiver } = await webhookTopic({
      ackTimeoutMs: 150,
      retry: { ...FAST_RETRY, maxAttempts: 2 },
    });
    receiver.respond = () => ({ status: 204, delayMs: 2000 });
    await engine.publish({ topic: 'orders', payload: 1 });

    const dead = await deadLetter(engine);

    expect(dead.failedReason).toMatch(/^TIMEOUT: /);
    expect(dead.history.map(({ attempt, reason }) => ({ attempt, reason }))).toEqual([
      { attempt: 1, reason: 'TIMEOUT' },
      { attempt: 2, reason: 'TIMEOUT' },
    ]);
    expect(dead.history.every((attempt) => (attempt.durationMs ?? 0) >= 150)).toBe(true);
    expect(receiver.requests).toHaveLength(2);
  });

  it('should record DEPENDENCY when nothing listens at the URL', async () => {
    const gone = await harness.receiver();
    await gone.close();
    const { engine } = await webhookTopic({ url: gone.url, retry: { ...FAST_RETRY, maxAttempts: 1 } });
    await engine.publish({ topic: 'orders', payload: 1 });

    const dead = await deadLetter(engine);

    expect(dead.failedReason).toMatch(/^DEPENDENCY: Network error: .*ECONNREFUSED/);
    expect(dead.history).toMatchObject([{ attempt: 1, reason: 'DEPENDENCY' }]);
  });
});

describe('pause and resume', () => {
  it('should keep the messages of a paused queue and deliver them after resume', async () => {
    const { engine, receiver } = await webhookTopic();
    const sibling = await harness.receiver();
    await engine.createQueue({ topic: 'orders', name: 'sibling', target: 'WEBHOOK', url: sibling.url });
    await engine.pauseQueue('orders', 'hook');
    const ids = new Set<string>();
    for (let n = 0; n < 3; n++) ids.add((await engine.publish({ topic: 'orders', payload: n })).messageId);

    // The unpaused sibling got all three, so the paused queue had every chance to deliver too.
    await waitFor(() => sibling.requests.length === 3);
    expect(receiver.requests).toEqual([]);
    expect(await engine.queueStats({ topic: 'orders', name: 'hook' })).toMatchObject({
      waiting: 3,
      paused: true,
    });
    expect((await engine.queue('orders', 'hook'))?.paused).toBe(true);

    await engine.resumeQueue('orders', 'hook');

    await waitFor(() => receiver.requests.length === 3);
    const delivered = receiver.requests.map((request) => (JSON.parse(request.body) as MessageRecord).id);
    expect(new Set(delivered)).toEqual(ids);
    expect((await engine.queue('orders', 'hook'))?.paused).toBe(false);
    expect(await engine.queueStats({ topic: 'orders', name: 'hook' })).toMatchObject({ paused: false });
  });
});
