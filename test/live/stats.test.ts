import { describe, expect, it } from 'vitest';
import { TestLiveStatsDocument, TestLiveStatsStreamDocument } from '../generated/graphql.js';
import { startReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';
import { collect, dataOf, type GraphQLBody, gql, useLiveGateways } from './helpers.js';

const { pool, redis, receivers } = useLiveGateways();

describe('Query.stats', () => {
  it('should answer zero rates and no queues on a fresh gateway', async () => {
    const { url } = await pool.start(redis.url);
    const { stats } = dataOf(await gql(url, TestLiveStatsDocument));
    expect(stats).toMatchObject({
      publishedPerSecond: 0,
      deliveredPerSecond: 0,
      failedPerSecond: 0,
      latencyP50Ms: 0,
      latencyP99Ms: 0,
      deadLettered: 0,
      queues: [],
    });
    expect(Date.parse(stats.at)).toBeGreaterThan(Date.now() - 5_000);
  });

  it('should count publishes, deliveries, failures, latency and dead letters', async () => {
    const { gateway, url } = await pool.start(redis.url);
    const receiver = await startReceiver();
    receivers.push(receiver);
    // Every request whose body says "reject" is refused for good (4xx): one dead letter each.
    receiver.respond = (_index, request) => ({
      status: request.body.includes('reject') ? 400 : 204,
      delayMs: 20,
    });
    await gateway.engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await gateway.engine.createQueue({ topic: 'orders', name: 'hook', target: 'WEBHOOK', url: receiver.url });
    await gateway.engine.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER' });
    await waitFor(() => gateway.engine.webhookWorkers === 1);

    await gateway.engine.publishBatch([
      ...Array.from({ length: 8 }, (_, n) => ({ topic: 'orders', payload: n })),
      { topic: 'orders', payload: 'reject' },
      { topic: 'orders', payload: 'reject' },
    ]);
    await waitFor(() => receiver.requests.length === 10);

    const perWindow = (rate: number, windowMs: number) => Math.round((rate * windowMs) / 1000);
    // The last DELIVERED events follow the receiver's answers by a moment: wait for all of them.
    const stats = await waitFor(
      async () => {
        const { stats } = dataOf(await gql(url, TestLiveStatsDocument));
        const settled =
          perWindow(stats.deliveredPerSecond, stats.windowMs) +
          perWindow(stats.failedPerSecond, stats.windowMs);
        return settled === 10 && stats.deadLettered === 2 ? stats : null;
      },
      { message: 'stats never showed the deliveries and dead letters' },
    );
    if (!stats) throw new Error('unreachable: waitFor answers a truthy value');
    const count = (rate: number) => perWindow(rate, stats.windowMs);
    expect(count(stats.publishedPerSecond)).toBe(10);
    expect(count(stats.deliveredPerSecond)).toBe(8);
    expect(count(stats.failedPerSecond)).toBe(2);
    // The receiver holds every request 20 ms: no delivery can be faster.
    expect(stats.latencyP50Ms).toBeGreaterThanOrEqual(19);
    expect(stats.latencyP50Ms).toBeLessThanOrEqual(stats.latencyP95Ms);
    expect(stats.latencyP95Ms).toBeLessThanOrEqual(stats.latencyP99Ms);
    expect(stats.queues).toEqual([
      { name: 'hook', stats: { waiting: 0 } },
      { name: 'pull', stats: { waiting: 10 } },
    ]);
  });

  it('should count what another instance published, within about a second', async () => {
    const { prefix, url } = await pool.start(redis.url);
    const other = await pool.start(redis.url, { SWITCHYARD_PREFIX: prefix });
    await other.gateway.engine.createTopic({ name: 'orders', kind: 'FANOUT' });

    await other.gateway.engine.publishBatch(
      Array.from({ length: 5 }, (_, n) => ({ topic: 'orders', payload: n })),
    );

    const stats = await waitFor(
      async () => {
        const { stats } = dataOf(await gql(url, TestLiveStatsDocument));
        return stats.publishedPerSecond > 0 ? stats : null;
      },
      { timeoutMs: 5_000, message: "the other instance's publishes never showed" },
    );
    if (!stats) throw new Error('unreachable: waitFor answers a truthy value');
    expect(Math.round((stats.publishedPerSecond * stats.windowMs) / 1000)).toBe(5);
  });
});

describe('Subscription.stats', () => {
  it('should push a snapshot at once and then every intervalMs', async () => {
    const { url } = await pool.start(redis.url);
    const stream = collect(pool.client(url), TestLiveStatsStreamDocument, { intervalMs: 200 });

    await waitFor(() => stream.results.length >= 4, { message: 'fewer than four snapshots in time' });
    stream.stop();
    const times = stream.results.map((result) => Date.parse(dataOf(result).stats.at));
    const gaps = times.slice(1).map((time, index) => time - (times[index] ?? 0));
    // Timers may fire a little late, never early by more than the clock's granularity.
    expect(gaps.every((gap) => gap >= 150 && gap < 1_000)).toBe(true);
  });

  it('should refuse an interval outside 100 to 60000 ms with BAD_USER_INPUT', async () => {
    const { url } = await pool.start(redis.url);
    const stream = collect<GraphQLBody>(pool.client(url), 'subscription { stats(intervalMs: 10) { at } }');
    await waitFor(() => stream.completed);
    expect(stream.results[0]?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
