import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import { createKeys } from '../../queues/redis/keys.js';
import { createRegistry } from '../../queues/registry/index.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import { expectRefusal, useEngineHarness } from './harness.js';
import { useTwoInstances } from './two-instances.js';

const harness = useEngineHarness();

// One MONITOR for the file, opened before any engine: opened while engines PING every 20 ms, ioredis
// can take a monitored line for the answer to MONITOR itself ("Command queue state error").
let monitor: Redis | undefined;
const seen: string[][] = [];
beforeAll(async () => {
  monitor = await harness.redis.client().monitor();
  monitor.on('monitor', (_time: string, args: string[]) => seen.push(args.map(String)));
});
afterAll(() => {
  monitor?.disconnect();
});

const instances = useTwoInstances(harness);

/** Two instances of one deployment; B hears the registry's announcements only through the proxy. */
async function twoInstances() {
  const both = await instances.twoInstances();
  // B has a routing table cached, without the names the tests create.
  expect(await both.b.topics()).toEqual([]);
  return both;
}

describe('a name another instance created, before its announcement arrives', () => {
  it('should publish to a topic created on another instance at once', async () => {
    const { a, b, proxy } = await twoInstances();
    proxy.hold();
    await a.createTopic({ name: 'orders', kind: 'FANOUT' });

    const result = await b.publish({ topic: 'orders', payload: 'from b' });
    expect(result.duplicate).toBe(false);
    expect(await b.topic('orders')).toMatchObject({ name: 'orders', kind: 'FANOUT' });
  });

  it('should answer topic(name) and a batch for a topic created on another instance at once', async () => {
    const { a, b, proxy } = await twoInstances();
    proxy.hold();
    await a.createTopic({ name: 'orders', kind: 'FANOUT' });
    await a.createTopic({ name: 'invoices', kind: 'FANOUT' });

    expect((await b.topic('invoices'))?.name).toBe('invoices');
    const results = await b.publishBatch([
      { topic: 'orders', payload: 1 },
      { topic: 'orders', payload: 2 },
    ]);
    expect(results.map((result) => result.duplicate)).toEqual([false, false]);
  });

  it('should receive from a queue created on another instance at once', async () => {
    const { a, b, proxy } = await twoInstances();
    await a.createTopic({ name: 'orders', kind: 'FANOUT' });
    await waitFor(async () => (await b.topic('orders')) !== null, { timeoutMs: 2000 });
    proxy.hold();
    await a.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER' });
    await a.publish({ topic: 'orders', payload: 'from a' });

    const deliveries = await b.receive('orders', 'pull', 10, 0);
    expect(deliveries.map((delivery) => delivery.message.payload)).toEqual(['from a']);
  });

  it('should consume from a queue created on another instance at once', async () => {
    const { a, b, proxy } = await twoInstances();
    await a.createTopic({ name: 'orders', kind: 'FANOUT' });
    await a.createQueue({ topic: 'orders', name: 'warm', target: 'CONSUMER' });
    // A first consume subscribes B to remote acks, which a held subscriber connection would never confirm.
    await (await b.consume('orders', 'warm', 1)).return?.();
    proxy.hold();
    await a.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER' });
    await a.publish({ topic: 'orders', payload: 'from a' });

    const stream = await b.consume('orders', 'pull', 1);
    try {
      const first = await stream.next();
      expect(first.done).toBe(false);
      expect(first.value?.message.payload).toBe('from a');
    } finally {
      await stream.return?.();
    }
  });
});

describe('a name no instance knows', () => {
  it('should still refuse NOT_FOUND, change nothing, and re-read Redis at most once per name and while', async () => {
    const { b, keys, keyPrefix } = await twoInstances();
    const redis = harness.redis.client();
    const from = seen.length;
    const keysBefore = (await redis.keys(`${keyPrefix}*`)).sort();

    const refusals = await Promise.all(
      Array.from({ length: 50 }, () =>
        expectRefusal(b.publish({ topic: 'nowhere', payload: 1 }), ErrorCode.NotFound),
      ),
    );
    expect(refusals[0]?.message).toMatch(/Topic nowhere does not exist/);
    await expectRefusal(b.publish({ topic: 'nowhere', payload: 2 }), ErrorCode.NotFound);
    expect(await b.topic('nowhere')).toBeNull();

    // MONITOR trails the commands it reports: once it shows this marker, it has shown all before it.
    const marker = `monitor-flush-${uniquePrefix()}`;
    await redis.echo(marker);
    await waitFor(() => seen.some((args) => args.includes(marker)), { timeoutMs: 2000 });
    const lookups = seen.slice(from).filter((args) => args.includes(keys.topics) && args.includes('nowhere'));
    expect(lookups.length).toBeLessThanOrEqual(1);
    expect(await b.topics()).toEqual([]);
    expect((await redis.keys(`${keyPrefix}*`)).sort()).toEqual(keysBefore);
  });
});

describe('a name another instance deleted', () => {
  it('should refuse NOT_FOUND once the deletion is announced, with no stale entry kept', async () => {
    const { a, b } = await twoInstances();
    await a.createTopic({ name: 'orders', kind: 'FANOUT' });
    await b.publish({ topic: 'orders', payload: 1 });

    await a.deleteTopic('orders');
    await waitFor(async () => (await b.topics()).length === 0, {
      timeoutMs: 2000,
      message: "instance B never heard of A's deletion",
    });
    await expectRefusal(b.publish({ topic: 'orders', payload: 2 }), ErrorCode.NotFound);
    expect(await b.topic('orders')).toBeNull();
  });
});

describe('the memory of names Redis does not hold', () => {
  it('should answer such a name unknown for unknownForMs without asking again, until an announcement names it', async () => {
    const keys = createKeys(uniquePrefix());
    const held = await instances.proxy();
    const registryOn = (subscriber: Redis) =>
      createRegistry({
        client: harness.redis.client(),
        subscriber,
        keys,
        defaultMaxMessageBytes: 1024,
        checkPayloadSchema: () => {},
        unknownForMs: 60_000,
      });
    const a = registryOn(harness.redis.client());
    const heldSubscriber = new Redis(held.url, { maxRetriesPerRequest: null });
    const b = registryOn(heldSubscriber);
    try {
      await Promise.all([a.ready(), b.ready()]);
      const known = async () => (await b.tableKnowing([{ topic: 'orders' }])).topic('orders')?.name;
      expect(await known()).toBeUndefined();
      held.hold();
      await a.createTopic({ name: 'orders', kind: 'FANOUT' });
      // The price of bounding the reads: a name found missing a moment ago stays missing here until
      // unknownForMs passes or the creation's announcement arrives.
      expect(await known()).toBeUndefined();
      const heard = new Promise<void>((resolve) => {
        const stop = b.onChange((change) => {
          if (change.topic !== 'orders') return;
          stop();
          resolve();
        });
      });
      held.release();
      await heard;
      expect(await known()).toBe('orders');
    } finally {
      await Promise.all([a.close(), b.close()]);
      heldSubscriber.disconnect();
    }
  });
});
