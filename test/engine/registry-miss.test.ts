import type { AddressInfo } from 'node:net';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import type { Engine } from '../../queues/engine/engine.js';
import { createKeys } from '../../queues/redis/keys.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import { expectRefusal, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

/**
 * A TCP proxy in front of the harness Redis that can hold back what Redis sends to subscriber
 * connections (those that sent a SUBSCRIBE): an announcement published meanwhile reaches them only on
 * `release`, which models a registry announcement still on its way to another instance.
 */
async function pubSubHoldingProxy(redisPort: number) {
  const sockets = new Set<Socket>();
  const held = new Map<Socket, Buffer[]>();
  let holding = false;
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: redisPort });
    sockets.add(client).add(upstream);
    let subscriber = false;
    client.on('data', (chunk: Buffer) => {
      if (chunk.toString('latin1').toLowerCase().includes('subscribe')) subscriber = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      const queue = held.get(client);
      if (queue || (holding && subscriber)) {
        held.set(client, [...(queue ?? []), chunk]);
        return;
      }
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const [client, chunks] of held) for (const chunk of chunks) client.write(chunk);
      held.clear();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let proxy: Awaited<ReturnType<typeof pubSubHoldingProxy>> | undefined;
let behindProxy: Engine | undefined;
// Hooks run last-registered first: B is closed here (close is idempotent) before its proxy goes.
afterEach(async () => {
  await behindProxy?.close();
  behindProxy = undefined;
  proxy?.release();
  await proxy?.close();
  proxy = undefined;
});

/** Two instances of one deployment; B hears the registry's announcements only through the proxy. */
async function twoInstances() {
  const keyPrefix = uniquePrefix();
  proxy = await pubSubHoldingProxy(harness.redis.port);
  const a = await harness.engine({ keyPrefix });
  const b = await harness.engine({ keyPrefix, redisUrl: proxy.url });
  behindProxy = b;
  // B has a routing table cached, without the names the tests create.
  expect(await b.topics()).toEqual([]);
  return { a, b, keys: createKeys(keyPrefix), keyPrefix, proxy };
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
});

describe('a name no instance knows', () => {
  it('should still refuse NOT_FOUND, change nothing, and re-read Redis at most once per name and while', async () => {
    const { b, keys, keyPrefix } = await twoInstances();
    const redis = harness.redis.client();
    const monitor = await harness.redis.client().monitor();
    const seen: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => seen.push(args));
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
    monitor.disconnect();
    const lookups = seen.filter((args) => args.includes(keys.topics) && args.includes('nowhere'));
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
