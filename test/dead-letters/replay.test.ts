import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import type { DeliveryEvent } from '../../queues/core/events.js';
import type { Engine } from '../../queues/engine/engine.js';
import { eventually, expectRefusal, FAST_RETRY, settledStats } from '../engine/harness.js';
import { waitFor } from '../helpers/redis.js';
import { consumerTopic, deadLetter, listAll, useEngineHarness } from './helpers.js';

const harness = useEngineHarness();

function recordEvents(engine: Engine): DeliveryEvent[] {
  const events: DeliveryEvent[] = [];
  engine.events.on((event) => events.push(event));
  return events;
}

/** The state of everything a refused replay must leave alone. */
async function snapshot(engine: Engine, topic: string, queues: string[]) {
  return {
    deadLetters: await listAll(engine, { topic }),
    stats: await Promise.all(queues.map((name) => settledStats(engine, { topic, name }))),
  };
}

async function receiveOne(engine: Engine, topic: string, queue: string) {
  const [delivery] = await engine.receive(topic, queue, 1, 2000);
  if (!delivery) throw new Error(`nothing to receive from ${queue}`);
  return delivery;
}

describe('replayDeadLetter', () => {
  it('should deliver the same message again with a fresh attempt count, and count the replay', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a'], { maxAttempts: 2 });
    const events = recordEvents(engine);
    const [id] = await deadLetter(engine, 'orders', 'a', 1, 'REJECTED');

    expect(await engine.deadLetters.replay(`orders/a/${id}`)).toEqual({
      replayed: 1,
      failed: 0,
      ids: [`orders/a/${id}`],
      probedQueues: [],
    });

    expect(await listAll(engine)).toEqual([]);
    expect(await engine.queueStats({ topic: 'orders', name: 'a' })).toMatchObject({
      waiting: 1,
      failed: 0,
      deadLettered: 0,
    });
    expect(events.filter((event) => event.kind === 'REPLAYED')).toMatchObject([
      { kind: 'REPLAYED', topic: 'orders', queue: 'a', messageId: id, reason: 'REJECTED' },
    ]);
    const delivery = await receiveOne(engine, 'orders', 'a');
    expect(delivery).toMatchObject({ attempt: 1, message: { id, payload: { index: 0 } } });
    // A fresh round: a retryable nack is retried, not dead-lettered as if attempts were spent.
    await engine.nack(delivery.id, 'PROCESSING', 'again');
    const retry = await receiveOne(engine, 'orders', 'a');
    expect(retry.attempt).toBe(2);
    await engine.nack(retry.id, 'PROCESSING', 'and again');

    const [dead] = await listAll(engine);
    expect(dead).toMatchObject({ id: `orders/a/${id}`, replayCount: 1, attempts: 2, error: 'and again' });
  });

  it('should answer NOT_FOUND and change nothing when the dead letter was already replayed or discarded', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a']);
    const [replayed, discarded] = await deadLetter(engine, 'orders', 'a', 2);
    await engine.deadLetters.replay(`orders/a/${replayed}`);
    await engine.deadLetters.discard(`orders/a/${discarded}`);
    const before = await snapshot(engine, 'orders', ['a']);
    const events = recordEvents(engine);

    for (const id of [replayed, discarded, 'never-existed']) {
      await expectRefusal(engine.deadLetters.replay(`orders/a/${id}`), ErrorCode.NotFound, /does not exist/);
      await expectRefusal(
        engine.deadLetters.replay(`orders/a/${id}`, { payload: { x: 1 } }),
        ErrorCode.NotFound,
      );
    }
    await expectRefusal(engine.deadLetters.replay(`nope/a/${replayed}`), ErrorCode.NotFound);
    await expectRefusal(engine.deadLetters.replay('orders/a'), ErrorCode.BadUserInput, /dead letter id/);

    expect(await snapshot(engine, 'orders', ['a'])).toEqual(before);
    expect(events).toEqual([]);
  });

  it('should replay an edited payload checked against the topic schema, keeping the message id', async () => {
    const engine = await harness.engine();
    await engine.createTopic({
      name: 'orders',
      kind: 'FANOUT',
      maxMessageBytes: 64,
      payloadSchema: {
        type: 'object',
        required: ['total'],
        properties: { total: { type: 'number', minimum: 0 } },
      },
    });
    await engine.createQueue({ topic: 'orders', name: 'a', target: 'CONSUMER', retry: { maxAttempts: 1 } });
    const { message } = await engine.publish({
      topic: 'orders',
      payload: { total: 5 },
      headers: { region: 'eu' },
    });
    await engine.nack((await receiveOne(engine, 'orders', 'a')).id, 'REJECTED', 'total too small');
    const id = `orders/a/${message?.id}`;
    const before = await snapshot(engine, 'orders', ['a']);

    const refused = await expectRefusal(
      engine.deadLetters.replay(id, { payload: { total: -1 } }),
      ErrorCode.Validation,
      /payload\/total must be >= 0/,
    );
    expect(refused.details).toMatchObject({ path: 'payload/total' });
    await expectRefusal(
      engine.deadLetters.replay(id, { payload: { total: 1, pad: 'x'.repeat(100) } }),
      ErrorCode.PayloadTooLarge,
    );
    expect(await snapshot(engine, 'orders', ['a'])).toEqual(before);

    await engine.deadLetters.replay(id, { payload: { total: 7 } });
    const delivery = await receiveOne(engine, 'orders', 'a');
    expect(delivery.message).toMatchObject({
      id: message?.id,
      payload: { total: 7 },
      headers: { region: 'eu' },
      publishedAt: message?.publishedAt,
      sizeBytes: 11,
    });
    expect(delivery.message.sha256).not.toBe(message?.sha256);
  });

  it('should replay into another queue of the topic: added there with its history, gone here', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a', 'b']);
    const events = recordEvents(engine);
    const [id] = await deadLetter(engine, 'orders', 'a', 1, 'REJECTED', () => 'nobody home');

    await engine.deadLetters.replay(`orders/a/${id}`, { toQueue: 'b' });

    expect(await engine.queueStats({ topic: 'orders', name: 'a' })).toMatchObject({ waiting: 0, failed: 0 });
    expect(events.filter((event) => event.kind === 'REPLAYED')).toMatchObject([
      { queue: 'b', messageId: id },
    ]);
    const delivery = await receiveOne(engine, 'orders', 'b');
    expect(delivery).toMatchObject({ attempt: 1, message: { id } });
    await engine.nack(delivery.id, 'VALIDATION', 'still wrong');
    const [dead] = await listAll(engine);
    expect(dead).toMatchObject({ id: `orders/b/${id}`, queue: 'b', replayCount: 1, attempts: 1 });
    expect(dead?.history.map((record) => record.error)).toEqual(['nobody home', 'still wrong']);
  });

  it("should replay into a FIFO queue as that queue adds: to BullMQ's wait list", async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a']);
    await engine.createQueue({
      topic: 'orders',
      name: 'fifo',
      bindingKey: 'fifo',
      target: 'CONSUMER',
      maxPriority: 0,
    });
    const [id] = await deadLetter(engine, 'orders', 'a', 1);

    await engine.deadLetters.replay(`orders/a/${id}`, { toQueue: 'fifo' });

    const fifo = harness.bullQueue(engine, 'orders', 'fifo');
    expect(await fifo.getJobCountByTypes('wait')).toBe(1);
    expect(await fifo.getJobCountByTypes('prioritized')).toBe(0);
    expect(await receiveOne(engine, 'orders', 'fifo')).toMatchObject({ attempt: 1, message: { id } });
  });

  it('should refuse a replay into an unknown queue (NOT_FOUND) or one holding the message (CONFLICT), changing nothing', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    for (const name of ['a', 'b']) {
      await engine.createQueue({ topic: 'orders', name, target: 'CONSUMER', retry: { maxAttempts: 1 } });
    }
    // Fan-out: the message is in both queues; fail it in a only.
    const { messageId } = await engine.publish({ topic: 'orders', payload: 1 });
    await engine.nack((await receiveOne(engine, 'orders', 'a')).id, 'REJECTED', 'no');
    const before = await snapshot(engine, 'orders', ['a', 'b']);

    await expectRefusal(
      engine.deadLetters.replay(`orders/a/${messageId}`, { toQueue: 'b' }),
      ErrorCode.Conflict,
      /already holds/,
    );
    await expectRefusal(
      engine.deadLetters.replay(`orders/a/${messageId}`, { toQueue: 'zzz' }),
      ErrorCode.NotFound,
    );
    await expectRefusal(
      engine.deadLetters.replay(`orders/a/${messageId}`, { toQueue: 'no way' }),
      ErrorCode.BadUserInput,
    );
    await expectRefusal(
      engine.deadLetters.replay(`orders/a/${messageId}`, { toQueue: 'b', payload: 'not checked yet' }),
      ErrorCode.Conflict,
    );
    expect(await snapshot(engine, 'orders', ['a', 'b'])).toEqual(before);
  });

  it('should lift an expired TTL so the replayed message is delivered', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a']);
    const { message } = await engine.publish({ topic: 'orders', routingKey: 'a', payload: 1, ttlMs: 1 });
    await waitFor(() => Date.now() > Date.parse(message?.expiresAt ?? ''));
    expect(await engine.receive('orders', 'a', 1, 0)).toEqual([]);
    const [dead] = await listAll(engine);
    expect(dead?.reason).toBe('EXPIRED');

    await engine.deadLetters.replay(dead?.id ?? '');
    const delivery = await receiveOne(engine, 'orders', 'a');
    expect(delivery.message).toMatchObject({ id: message?.id, expiresAt: null });
  });

  it('should deliver a replayed webhook message to the receiver', async () => {
    const engine = await harness.engine();
    const receiver = await harness.receiver();
    receiver.respond = (index) => ({ status: index === 0 ? 400 : 204 });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const queue = await engine.createQueue({
      topic: 'orders',
      name: 'hook',
      target: 'WEBHOOK',
      url: receiver.url,
      retry: { ...FAST_RETRY, maxAttempts: 3 },
    });
    const { messageId } = await engine.publish({ topic: 'orders', payload: { n: 1 } });
    const dead = await eventually(async () => (await listAll(engine))[0]);

    await engine.deadLetters.replay(dead.id);

    await waitFor(async () => (await engine.queueStats(queue)).completed === 1);
    expect(receiver.requests.map((request) => request.headers['webhook-id'])).toEqual([messageId, messageId]);
    expect(receiver.requests[1]?.headers['x-switchyard-attempt']).toBe('1');
  });
});

describe('replayDeadLetters', () => {
  it('should replay what the filter selects, newest first, up to the limit', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a', 'b']);
    const rejected = await deadLetter(engine, 'orders', 'a', 5, 'REJECTED');
    const validation = await deadLetter(engine, 'orders', 'a', 2, 'VALIDATION');
    const other = await deadLetter(engine, 'orders', 'b', 2, 'REJECTED');
    const events = recordEvents(engine);

    const result = await engine.deadLetters.replayMany({ queue: 'a', reason: 'REJECTED' }, 3);

    const newest = [...rejected].reverse().slice(0, 3);
    expect(result).toEqual({
      replayed: 3,
      failed: 0,
      ids: newest.map((id) => `orders/a/${id}`),
      probedQueues: [],
    });
    expect(events.filter((event) => event.kind === 'REPLAYED').map((event) => event.messageId)).toEqual(
      newest,
    );
    const left = (await listAll(engine)).map((record) => record.message.id);
    expect(new Set(left)).toEqual(new Set([...rejected.slice(0, 2), ...validation, ...other]));
    const delivered = await engine.receive('orders', 'a', 10, 500);
    expect(new Set(delivered.map((delivery) => delivery.message.id))).toEqual(new Set(newest));
    expect(delivered.every((delivery) => delivery.attempt === 1)).toBe(true);

    expect(await engine.deadLetters.replayMany({ topic: 'orders' }, 100)).toMatchObject({
      replayed: 6,
      failed: 0,
    });
    expect(await engine.deadLetters.replayMany({ topic: 'orders' }, 100)).toEqual({
      replayed: 0,
      failed: 0,
      ids: [],
      probedQueues: [],
    });
    await expectRefusal(engine.deadLetters.replayMany({}, 0), ErrorCode.BadUserInput, /limit/);
    await expectRefusal(engine.deadLetters.replayMany({}, 100_001), ErrorCode.BadUserInput, /limit/);
  });
});
