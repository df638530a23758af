import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Loss } from '../../queues/core/losses.js';
import type { Engine, EngineOptions } from '../../queues/engine/engine.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import { useEngineHarness } from './harness.js';

const harness = useEngineHarness();

/** Two gateway instances on one Redis: A only administers, B runs the workers. */
async function twoInstances(a: Partial<EngineOptions> = {}) {
  const keyPrefix = uniquePrefix();
  const errorsOfA: Error[] = [];
  const errorsOfB: Error[] = [];
  const instanceA = await harness.engine({
    keyPrefix,
    runWorkers: false,
    onError: (error) => errorsOfA.push(error),
    ...a,
  });
  const instanceB = await harness.engine({ keyPrefix, onError: (error) => errorsOfB.push(error) });
  const losses: Loss[] = [];
  instanceA.losses.on((loss) => losses.push(loss));
  return { a: instanceA, b: instanceB, errorsOfA, errorsOfB, losses };
}

/** Every BullMQ key of the queue left in Redis. */
const bullKeys = (engine: Engine, topic: string, name: string) =>
  harness.redis.client().keys(`${engine.keys.bullPrefix(topic)}:${name}:*`);

const lost = (losses: Loss[]) =>
  losses.filter((loss) => loss.reason === 'queue_deleted').reduce((sum, loss) => sum + loss.count, 0);

describe('deleteQueue with several instances on one Redis', () => {
  it("should remove the queue's keys only after another instance's deliveries under way have finished", async () => {
    const { a, b, errorsOfB, losses } = await twoInstances();
    const receiver = await harness.receiver();
    receiver.respond = () => ({ status: 204, delayMs: 1_500 });
    await a.createTopic({ name: 'orders', kind: 'FANOUT' });
    await a.createQueue({
      topic: 'orders',
      name: 'hook',
      target: 'WEBHOOK',
      url: receiver.url,
      concurrency: 1,
    });
    await waitFor(() => b.webhookWorkers === 1, { message: 'B started no worker for the queue' });
    for (let n = 0; n < 3; n++) await a.publish({ topic: 'orders', payload: n });
    await waitFor(() => receiver.requests.length === 1, { message: 'B delivered nothing' });

    await a.deleteQueue('orders', 'hook');
    // B's worker finishes what it had under way before it closes; close waits for that too.
    await b.close();

    expect(errorsOfB.map((error) => error.message)).toEqual([]);
    expect(await bullKeys(a, 'orders', 'hook')).toEqual([]);
    // What B delivered is not lost; what was still waiting is, and is counted.
    expect(receiver.requests.length).toBeGreaterThan(0);
    expect(lost(losses)).toBe(3 - receiver.requests.length);
  });

  it('should not wait for an instance that received from the queue and holds nothing', async () => {
    const { a, b, errorsOfB } = await twoInstances({ queueDeleteWaitMs: 20_000 });
    await a.createTopic({ name: 'orders', kind: 'FANOUT' });
    await a.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER', ackTimeoutMs: 200 });
    await a.publish({ topic: 'orders', payload: 1 });
    const [delivery] = await b.receive('orders', 'pull', 1, 1_000);
    expect(delivery).toBeDefined();

    const started = Date.now();
    await a.deleteQueue('orders', 'pull');

    // B heard of the deletion and closed its consumer worker, so A did not wait out its bound.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await bullKeys(a, 'orders', 'pull')).toEqual([]);
    // Looked at last: a BullMQ Queue writes the queue's meta key when it opens.
    expect(await harness.bullQueue(a, 'orders', 'pull').getWorkers()).toEqual([]);
    expect(errorsOfB.map((error) => error.message)).toEqual([]);
  });

  it("should stop waiting as soon as a worker's connection drops, as a killed instance's does", async () => {
    const a = await harness.engine({ runWorkers: false, queueDeleteWaitMs: 20_000 });
    await a.createTopic({ name: 'orders', kind: 'FANOUT' });
    await a.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER' });
    // A worker of an instance about to die, as Redis sees it: a connection named the way BullMQ
    // names a worker's (`<prefix>:<base64 of the queue name>`, what Queue.getWorkers() matches).
    const doomed = new Redis(harness.redis.url, {
      connectionName: `${a.keys.bullPrefix('orders')}:${Buffer.from('pull').toString('base64')}`,
    });
    try {
      await doomed.ping();
      let finished = false;
      const deleting = a.deleteQueue('orders', 'pull').finally(() => {
        finished = true;
      });
      await waitFor(async () => (await a.queue('orders', 'pull')) === null);
      expect(finished).toBe(false);

      // kill -9 closes the process's sockets; Redis drops its clients at once.
      const killedAt = Date.now();
      doomed.disconnect();
      await deleting;

      expect(Date.now() - killedAt).toBeLessThan(5_000);
      expect(await bullKeys(a, 'orders', 'pull')).toEqual([]);
    } finally {
      doomed.disconnect();
    }
  });

  it('should remove the keys anyway once its bound is spent, and say so', async () => {
    const { a, b, errorsOfA, losses } = await twoInstances({ queueDeleteWaitMs: 300 });
    const receiver = await harness.receiver();
    // B's delivery outlasts the bound: it answers after its 2 s timeout (the queue's ackTimeoutMs).
    receiver.respond = () => ({ status: 204, delayMs: 10_000 });
    await a.createTopic({ name: 'orders', kind: 'FANOUT' });
    await a.createQueue({
      topic: 'orders',
      name: 'hook',
      target: 'WEBHOOK',
      url: receiver.url,
      concurrency: 1,
      ackTimeoutMs: 2_000,
    });
    await waitFor(() => b.webhookWorkers === 1, { message: 'B started no worker for the queue' });
    await a.publish({ topic: 'orders', payload: 1 });
    await waitFor(() => receiver.requests.length === 1, { message: 'B delivered nothing' });

    const started = Date.now();
    await a.deleteQueue('orders', 'hook');

    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await bullKeys(a, 'orders', 'hook')).toEqual([]);
    expect(errorsOfA.map((error) => error.message)).toEqual([
      expect.stringMatching(/orders\/hook.*still.*300 ms/),
    ]);
    expect(lost(losses)).toBe(1);
  });
});
