import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import type { Engine } from '../../queues/engine/engine.js';
import { uniquePrefix } from '../helpers/redis.js';
import { expectRefusal, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

/**
 * Two gateway instances on one Redis: `asker` sends the requests and runs no webhook workers, so
 * every answer comes from `answerer`, the other instance.
 */
async function twoInstances() {
  const keyPrefix = uniquePrefix();
  const asker = await harness.engine({ keyPrefix, runWorkers: false });
  const answerer = await harness.engine({ keyPrefix });
  await asker.createTopic({ name: 'rpc', kind: 'DIRECT' });
  return { asker, answerer };
}

/** Receives the one delivery of a CONSUMER queue on `engine`, or fails the test. */
async function receiveOne(engine: Engine, queue: string) {
  const [delivery] = await engine.receive('rpc', queue, 1, 5000);
  if (!delivery) throw new Error(`nothing to receive from ${queue}`);
  return delivery;
}

/** This instance's count of dropped replies for `reason`, from its Prometheus metrics. */
async function droppedReplies(engine: Engine, reason: string): Promise<number> {
  const text = await engine.metrics.render();
  const line = text
    .split('\n')
    .find((row) => row.startsWith(`switchyard_replies_dropped_total{reason="${reason}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('request to a CONSUMER queue', () => {
  it('should answer the reply sent from another instance, and the reply should ack the delivery', async () => {
    const { asker, answerer } = await twoInstances();
    await asker.createQueue({ topic: 'rpc', name: 'pull', target: 'CONSUMER', bindingKey: 'sum' });
    const answered = asker.request({ topic: 'rpc', routingKey: 'sum', payload: { a: 2, b: 3 } }, 5000);

    const delivery = await receiveOne(answerer, 'pull');
    expect(delivery.message.replyTo).toMatch(/:reply:/);
    expect(delivery.message.correlationId).toEqual(expect.any(String));
    const { a, b } = delivery.message.payload as { a: number; b: number };
    expect(await answerer.reply(delivery.id, { sum: a + b }, { 'x-unit': 'apples' })).toBe(true);

    const reply = await answered;
    expect(reply).toMatchObject({
      messageId: delivery.message.id,
      queue: 'pull',
      payload: { sum: 5 },
      headers: { 'x-unit': 'apples' },
    });
    expect(reply.repliedAt).toBeInstanceOf(Date);
    // The reply acked the delivery: nothing is left waiting or in flight, and nothing comes again.
    expect(await asker.queueStats({ topic: 'rpc', name: 'pull' })).toMatchObject({ waiting: 0, active: 0 });
    expect(await answerer.receive('rpc', 'pull', 1, 0)).toEqual([]);
  });

  it('should answer a delivery pushed by consume on the other instance, and free its credit', async () => {
    const { asker, answerer } = await twoInstances();
    await asker.createQueue({ topic: 'rpc', name: 'pull', target: 'CONSUMER', bindingKey: 'x' });
    const stream = await answerer.consume('rpc', 'pull', 1);
    try {
      const first = asker.request({ topic: 'rpc', routingKey: 'x', payload: 1 }, 5000);
      const second = asker.request({ topic: 'rpc', routingKey: 'x', payload: 2 }, 5000);
      // Prefetch 1: the second delivery comes only once the reply settled the first.
      for (const expected of [first, second]) {
        const { value: delivery, done } = await stream.next();
        if (done || !delivery) throw new Error('the consume stream ended');
        await answerer.reply(delivery.id, { twice: (delivery.message.payload as number) * 2 });
        expect((await expected).payload).toEqual({ twice: (delivery.message.payload as number) * 2 });
      }
    } finally {
      await stream.return?.();
    }
  });

  it("should keep a caller's correlationId", async () => {
    const { asker, answerer } = await twoInstances();
    await asker.createQueue({ topic: 'rpc', name: 'pull', target: 'CONSUMER', bindingKey: 'x' });
    const answered = asker.request(
      { topic: 'rpc', routingKey: 'x', payload: 1, correlationId: 'mine' },
      5000,
    );
    const delivery = await receiveOne(answerer, 'pull');
    expect(delivery.message.correlationId).toBe('mine');
    await answerer.reply(delivery.id, 2);
    expect((await answered).payload).toBe(2);
  });

  it('should answer TIMEOUT when no reply comes in time, and drop and count a reply that comes later', async () => {
    const { asker, answerer } = await twoInstances();
    await asker.createQueue({ topic: 'rpc', name: 'pull', target: 'CONSUMER', bindingKey: 'slow' });
    const started = Date.now();
    await expectRefusal(
      asker.request({ topic: 'rpc', routingKey: 'slow', payload: 1 }, 300),
      ErrorCode.Timeout,
      /300 ms/,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(3000);

    const delivery = await receiveOne(answerer, 'pull');
    expect(await droppedReplies(answerer, 'late')).toBe(0);
    // The late reply still acks its delivery; only the answer is dropped.
    expect(await answerer.reply(delivery.id, 'too late')).toBe(true);
    expect(await droppedReplies(answerer, 'late')).toBe(1);
    expect(await asker.queueStats({ topic: 'rpc', name: 'pull' })).toMatchObject({ waiting: 0, active: 0 });
  });

  it('should answer the first of two replies and drop and count the second', async () => {
    const { asker, answerer } = await twoInstances();
    await asker.createQueue({ topic: 'rpc', name: 'one', target: 'CONSUMER', bindingKey: 'both' });
    await asker.createQueue({ topic: 'rpc', name: 'two', target: 'CONSUMER', bindingKey: 'both' });
    const answered = asker.request({ topic: 'rpc', routingKey: 'both', payload: 1 }, 5000);
    const first = await receiveOne(answerer, 'one');
    const second = await receiveOne(asker, 'two');
    await answerer.reply(first.id, 'first');
    expect((await answered).payload).toBe('first');
    expect(await asker.reply(second.id, 'second')).toBe(true);
    expect(await droppedReplies(asker, 'duplicate')).toBe(1);
    expect(await droppedReplies(answerer, 'duplicate')).toBe(0);
  });

  it('should refuse a reply to a spent delivery with NOT_FOUND', async () => {
    const { asker, answerer } = await twoInstances();
    await asker.createQueue({ topic: 'rpc', name: 'pull', target: 'CONSUMER', bindingKey: 'x' });
    const answered = asker.request({ topic: 'rpc', routingKey: 'x', payload: 1 }, 5000);
    const delivery = await receiveOne(answerer, 'pull');
    await answerer.reply(delivery.id, 'once');
    await answered;
    await expectRefusal(answerer.reply(delivery.id, 'twice'), ErrorCode.NotFound);
    // From the other instance too, which never held it.
    await expectRefusal(asker.reply(delivery.id, 'twice'), ErrorCode.NotFound);
  });

  it('should refuse a reply to a message that expects none with BAD_USER_INPUT, and leave it ackable', async () => {
    const { asker, answerer } = await twoInstances();
    await asker.createQueue({ topic: 'rpc', name: 'pull', target: 'CONSUMER', bindingKey: 'x' });
    await asker.publish({ topic: 'rpc', routingKey: 'x', payload: 1, replyTo: 'somewhere-else' });
    const delivery = await receiveOne(answerer, 'pull');
    await expectRefusal(answerer.reply(delivery.id, 'no'), ErrorCode.BadUserInput, /expects no reply/);
    expect(await answerer.ack(delivery.id)).toBe(true);
  });

  it('should refuse a reply over the topic size limit with PAYLOAD_TOO_LARGE, before acking', async () => {
    const keyPrefix = uniquePrefix();
    const asker = await harness.engine({ keyPrefix, runWorkers: false });
    const answerer = await harness.engine({ keyPrefix });
    await asker.createTopic({ name: 'rpc', kind: 'FANOUT', maxMessageBytes: 100 });
    await asker.createQueue({ topic: 'rpc', name: 'pull', target: 'CONSUMER' });
    const answered = asker.request({ topic: 'rpc', payload: 1 }, 5000);
    const delivery = await receiveOne(answerer, 'pull');
    await expectRefusal(answerer.reply(delivery.id, 'x'.repeat(200)), ErrorCode.PayloadTooLarge);
    await answerer.reply(delivery.id, 'short');
    expect((await answered).payload).toBe('short');
  });
});

describe('request to a WEBHOOK queue', () => {
  it("should answer the JSON body of the endpoint's 2xx, delivered by another instance", async () => {
    const { asker, answerer } = await twoInstances();
    const receiver = await harness.receiver();
    receiver.respond = (_index, request) => {
      const { payload } = JSON.parse(request.body) as { payload: { n: number } };
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ doubled: payload.n * 2 }),
      };
    };
    await asker.createQueue({
      topic: 'rpc',
      name: 'hook',
      target: 'WEBHOOK',
      url: receiver.url,
      bindingKey: 'x',
    });
    const reply = await asker.request({ topic: 'rpc', routingKey: 'x', payload: { n: 21 } }, 5000);
    expect(reply).toMatchObject({ queue: 'hook', payload: { doubled: 42 }, headers: {} });
    expect(answerer.webhookWorkers).toBe(1);
    expect(asker.webhookWorkers).toBe(0);
  });

  it('should fail the request at once with VALIDATION when the 2xx body is not JSON', async () => {
    const { asker } = await twoInstances();
    const receiver = await harness.receiver();
    receiver.respond = () => ({ status: 200, body: 'OK, thanks' });
    await asker.createQueue({
      topic: 'rpc',
      name: 'hook',
      target: 'WEBHOOK',
      url: receiver.url,
      bindingKey: 'x',
    });
    const started = Date.now();
    await expectRefusal(
      asker.request({ topic: 'rpc', routingKey: 'x', payload: 1 }, 10_000),
      ErrorCode.Validation,
      /not JSON/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('should fail the request with PAYLOAD_TOO_LARGE when the body is over the topic limit', async () => {
    const keyPrefix = uniquePrefix();
    const asker = await harness.engine({ keyPrefix, runWorkers: false });
    await harness.engine({ keyPrefix });
    await asker.createTopic({ name: 'rpc', kind: 'FANOUT', maxMessageBytes: 64 });
    const receiver = await harness.receiver();
    receiver.respond = () => ({ status: 200, body: JSON.stringify({ big: 'x'.repeat(100) }) });
    await asker.createQueue({ topic: 'rpc', name: 'hook', target: 'WEBHOOK', url: receiver.url });
    await expectRefusal(asker.request({ topic: 'rpc', payload: 1 }, 10_000), ErrorCode.PayloadTooLarge);
  });

  it('should take a 2xx with no body as an ack without a reply: the request times out', async () => {
    const { asker } = await twoInstances();
    const receiver = await harness.receiver();
    receiver.respond = () => ({ status: 204 });
    await asker.createQueue({
      topic: 'rpc',
      name: 'hook',
      target: 'WEBHOOK',
      url: receiver.url,
      bindingKey: 'x',
    });
    await expectRefusal(asker.request({ topic: 'rpc', routingKey: 'x', payload: 1 }, 800), ErrorCode.Timeout);
    expect(receiver.requests).toHaveLength(1);
    expect(await asker.queueStats({ topic: 'rpc', name: 'hook' })).toMatchObject({ waiting: 0, failed: 0 });
  });

  it("should drop and count a webhook's late answer", async () => {
    const { asker, answerer } = await twoInstances();
    const receiver = await harness.receiver();
    receiver.respond = () => ({ status: 200, body: '"late"', delayMs: 600 });
    await asker.createQueue({
      topic: 'rpc',
      name: 'hook',
      target: 'WEBHOOK',
      url: receiver.url,
      bindingKey: 'x',
    });
    await expectRefusal(asker.request({ topic: 'rpc', routingKey: 'x', payload: 1 }, 200), ErrorCode.Timeout);
    await expect.poll(() => droppedReplies(answerer, 'late'), { timeout: 5000 }).toBe(1);
  });
});

describe('request refusals', () => {
  it('should answer NOT_FOUND at once, storing nothing, when no queue matches', async () => {
    const { asker } = await twoInstances();
    await asker.createQueue({ topic: 'rpc', name: 'pull', target: 'CONSUMER', bindingKey: 'a' });
    await expectRefusal(
      asker.request({ topic: 'rpc', routingKey: 'b', payload: 1 }, 5000),
      ErrorCode.NotFound,
      /nothing could answer/,
    );
    await expectRefusal(asker.request({ topic: 'nope', payload: 1 }, 5000), ErrorCode.NotFound);
    expect(await asker.topicStats('rpc')).toMatchObject({ published: 0, unrouted: 0 });
  });

  it('should refuse a timeout beyond 60 s, or under 1 ms, and a replyTo of the caller', async () => {
    const { asker } = await twoInstances();
    await asker.createQueue({ topic: 'rpc', name: 'pull', target: 'CONSUMER', bindingKey: 'a' });
    const input = { topic: 'rpc', routingKey: 'a', payload: 1 };
    await expectRefusal(asker.request(input, 60_001), ErrorCode.BadUserInput, /timeoutMs/);
    await expectRefusal(asker.request(input, 0), ErrorCode.BadUserInput, /timeoutMs/);
    await expectRefusal(asker.request({ ...input, replyTo: 'x' }, 1000), ErrorCode.BadUserInput, /replyTo/);
    expect(await asker.topicStats('rpc')).toMatchObject({ published: 0 });
  });

  it("should refuse a publish whose replyTo poses as one of the gateway's reply addresses", async () => {
    const { asker } = await twoInstances();
    const replyTo = `${asker.keys.replies.addressPrefix}someone:else`;
    await expectRefusal(
      asker.publish({ topic: 'rpc', payload: 1, replyTo }),
      ErrorCode.BadUserInput,
      /replyTo/,
    );
    await expectRefusal(
      asker.publishBatch([
        { topic: 'rpc', payload: 1 },
        { topic: 'rpc', payload: 1, replyTo },
      ]),
      ErrorCode.BadUserInput,
      /inputs\[1\]\.replyTo/,
    );
  });

  it('should fail waiting requests with UNAVAILABLE at once when the gateway stops', async () => {
    const { asker, answerer } = await twoInstances();
    await asker.createQueue({ topic: 'rpc', name: 'pull', target: 'CONSUMER', bindingKey: 'a' });
    const waiting = asker.request({ topic: 'rpc', routingKey: 'a', payload: 1 }, 30_000);
    const delivery = await receiveOne(answerer, 'pull');
    const started = Date.now();
    const refused = expectRefusal(waiting, ErrorCode.Unavailable);
    await asker.close();
    await refused;
    expect(Date.now() - started).toBeLessThan(5000);
    // Its answer then finds no one: acked, dropped and counted.
    expect(await answerer.reply(delivery.id, 'anyone?')).toBe(true);
    expect(await droppedReplies(answerer, 'late')).toBe(1);
    await expectRefusal(
      asker.request({ topic: 'rpc', routingKey: 'a', payload: 1 }, 1000),
      ErrorCode.Unavailable,
    );
  });
});
