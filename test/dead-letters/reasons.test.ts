import { createServer } from 'node:net';
import { UnrecoverableError, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import type { FailureReason } from '../../queues/core/types.js';
import type { DeadLetterRecord } from '../../queues/dead-letters/dead-letters.js';
import type { Engine } from '../../queues/engine/engine.js';
import type { CreateQueueInput } from '../../queues/registry/registry.js';
import { eventually, FAST_RETRY } from '../engine/harness.js';
import { waitFor } from '../helpers/redis.js';
import { consumerTopic, deadLetter, useEngineHarness } from './helpers.js';

const harness = useEngineHarness();
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.close()));
});

/** A port nothing listens on: bound once by us, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function webhookTopic(settings: Partial<CreateQueueInput> & { url: string }): Promise<Engine> {
  const engine = await harness.engine();
  await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
  await engine.createQueue({ topic: 'orders', name: 'hook', target: 'WEBHOOK', ...settings });
  return engine;
}

/** The only dead letter of the engine, once it is there. */
async function onlyDeadLetter(engine: Engine): Promise<DeadLetterRecord> {
  return eventually(
    async () => {
      const page = await engine.deadLetters.page({});
      return page.edges.length === 1 ? page.edges[0]?.node : null;
    },
    { message: 'expected exactly one dead letter' },
  );
}

/** Fails every job of a queue with `message` through a plain BullMQ worker: a failure our code never saw. */
function failWithForeignWorker(engine: Engine, topic: string, queue: string, message: string): void {
  const worker = new Worker(
    queue,
    async (): Promise<void> => {
      throw new UnrecoverableError(message);
    },
    { connection: harness.redis.client(), prefix: engine.keys.bullPrefix(topic) },
  );
  worker.on('error', () => {});
  workers.push(worker);
}

describe('failure reasons', () => {
  it('should record VALIDATION from a consumer nack, with its history', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['pull'], { maxAttempts: 3 });
    const [id] = await deadLetter(engine, 'orders', 'pull', 1, 'VALIDATION', () => 'amount must be positive');

    const dead = await onlyDeadLetter(engine);
    expect(dead).toMatchObject({
      id: `orders/pull/${id}`,
      topic: 'orders',
      queue: 'pull',
      reason: 'VALIDATION',
      error: 'amount must be positive',
      attempts: 1,
      replayCount: 0,
      message: { id, payload: { index: 0 } },
    });
    expect(dead.history).toMatchObject([
      { attempt: 1, reason: 'VALIDATION', error: 'amount must be positive' },
    ]);
    expect(Date.parse(dead.failedAt)).toBeLessThanOrEqual(Date.now());
  });

  it('should record PROCESSING after every attempt was spent, with one history record per attempt', async () => {
    const receiver = await harness.receiver();
    receiver.respond = () => ({ status: 503, body: 'down for maintenance' });
    const engine = await webhookTopic({ url: receiver.url, retry: { ...FAST_RETRY, maxAttempts: 3 } });
    await engine.publish({ topic: 'orders', payload: 1 });

    const dead = await onlyDeadLetter(engine);
    expect(dead).toMatchObject({
      reason: 'PROCESSING',
      error: 'HTTP 503: down for maintenance',
      attempts: 3,
    });
    expect(dead.history.map((record) => [record.attempt, record.reason])).toEqual([
      [1, 'PROCESSING'],
      [2, 'PROCESSING'],
      [3, 'PROCESSING'],
    ]);
    expect(dead.history.every((record) => typeof record.durationMs === 'number')).toBe(true);
  });

  it('should record TIMEOUT when the receiver answers after ackTimeoutMs', async () => {
    const receiver = await harness.receiver();
    receiver.respond = () => ({ status: 204, delayMs: 2000 });
    const engine = await webhookTopic({
      url: receiver.url,
      ackTimeoutMs: 150,
      retry: { ...FAST_RETRY, maxAttempts: 1 },
    });
    await engine.publish({ topic: 'orders', payload: 1 });

    const dead = await onlyDeadLetter(engine);
    expect(dead).toMatchObject({ reason: 'TIMEOUT', error: 'Timed out after 150 ms', attempts: 1 });
  });

  it('should record TIMEOUT for a consumer delivery that stalled too often (BullMQ fails it, we index it)', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({
      topic: 'orders',
      name: 'pull',
      target: 'CONSUMER',
      deliveryMode: 'AT_MOST_ONCE',
      ackTimeoutMs: 150,
    });
    await engine.publish({ topic: 'orders', payload: 1 });
    expect(await engine.receive('orders', 'pull', 1, 1000)).toHaveLength(1);
    // BullMQ fails an over-stalled job when it is next fetched.
    await waitFor(async () => {
      await engine.receive('orders', 'pull', 1, 0);
      return (await engine.deadLetters.page({ reason: 'TIMEOUT' })).edges.length === 1;
    });

    const dead = await onlyDeadLetter(engine);
    expect(dead.reason).toBe('TIMEOUT');
    // One lapsed visibility timeout (its attempt number depends on when the stalled event is handled).
    expect(dead.history.map((record) => record.reason)).toEqual(['TIMEOUT']);
  });

  it('should record DEPENDENCY when the receiver refuses the connection', async () => {
    const engine = await webhookTopic({
      url: `http://127.0.0.1:${await closedPort()}/hook`,
      retry: { ...FAST_RETRY, maxAttempts: 2 },
    });
    await engine.publish({ topic: 'orders', payload: 1 });

    const dead = await onlyDeadLetter(engine);
    expect(dead.reason).toBe('DEPENDENCY');
    expect(dead.error).toMatch(/ECONNREFUSED/);
    expect(dead.history.map((record) => record.reason)).toEqual(['DEPENDENCY', 'DEPENDENCY']);
  });

  it('should record REJECTED after a single attempt on a 4xx', async () => {
    const receiver = await harness.receiver();
    receiver.respond = () => ({ status: 422, body: '{"error":"unknown customer"}' });
    const engine = await webhookTopic({ url: receiver.url, retry: { ...FAST_RETRY, maxAttempts: 5 } });
    await engine.publish({ topic: 'orders', payload: 1 });

    const dead = await onlyDeadLetter(engine);
    expect(dead).toMatchObject({
      reason: 'REJECTED',
      error: 'HTTP 422: {"error":"unknown customer"}',
      attempts: 1,
    });
    expect(receiver.requests).toHaveLength(1);
  });

  it('should record EXPIRED for a message whose TTL passed before a consumer took it', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['pull']);
    const { message } = await engine.publish({ topic: 'orders', routingKey: 'pull', payload: 1, ttlMs: 1 });
    await waitFor(() => Date.now() > Date.parse(message?.expiresAt ?? ''));
    expect(await engine.receive('orders', 'pull', 1, 0)).toEqual([]);

    const dead = await onlyDeadLetter(engine);
    expect(dead).toMatchObject({ reason: 'EXPIRED', error: `message expired at ${message?.expiresAt}` });
  });

  it.each<[string, FailureReason, string]>([
    ['CIRCUIT_OPEN: endpoint paused after 5 failures', 'CIRCUIT_OPEN', 'endpoint paused after 5 failures'],
    ['boom from some other tool', 'UNKNOWN', 'boom from some other tool'],
    ['NOT_A_REASON: x', 'UNKNOWN', 'NOT_A_REASON: x'],
  ])(
    'should read the reason of a failedReason %j written outside the gateway as %s',
    async (text, reason, error) => {
      const engine = await harness.engine();
      await consumerTopic(engine, 'orders', ['pull']);
      await engine.publish({ topic: 'orders', routingKey: 'pull', payload: 1 });
      failWithForeignWorker(engine, 'orders', 'pull', text);

      const dead = await onlyDeadLetter(engine);
      expect(dead).toMatchObject({ reason, error });
      const byReason = await engine.deadLetters.page({ reason });
      expect(byReason.edges.map((edge) => edge.node.id)).toEqual([dead.id]);
      expect(await byReason.totalCount()).toBe(1);
    },
  );
});

describe('history', () => {
  it('should keep every attempt across a replay, count attempts since the replay, and count replays', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['pull'], { maxAttempts: 2 });
    await engine.publish({ topic: 'orders', routingKey: 'pull', payload: 1 });
    const nackNext = async (reason: FailureReason, error: string) => {
      const [delivery] = await engine.receive('orders', 'pull', 1, 2000);
      if (!delivery) throw new Error('nothing to receive');
      await engine.nack(delivery.id, reason, error);
      return delivery;
    };
    await nackNext('PROCESSING', 'first');
    await nackNext('TIMEOUT', 'second');
    const first = await onlyDeadLetter(engine);
    expect(first).toMatchObject({ reason: 'TIMEOUT', error: 'second', attempts: 2, replayCount: 0 });

    await engine.deadLetters.replay(first.id);
    const again = await nackNext('REJECTED', 'third');
    expect(again.attempt).toBe(1);

    const second = await onlyDeadLetter(engine);
    expect(second).toMatchObject({
      id: first.id,
      reason: 'REJECTED',
      error: 'third',
      attempts: 1,
      replayCount: 1,
    });
    expect(second.history.map((record) => [record.attempt, record.reason, record.error])).toEqual([
      [1, 'PROCESSING', 'first'],
      [2, 'TIMEOUT', 'second'],
      [1, 'REJECTED', 'third'],
    ]);
    expect(Date.parse(second.failedAt)).toBeGreaterThanOrEqual(Date.parse(first.failedAt));
  });
});
