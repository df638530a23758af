import type { Client } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import type { CreateQueueInput } from '../../queues/registry/registry.js';
import type { Gateway } from '../../server/gateway.js';
import { TestLiveConsumeDocument, type TestLiveConsumeSubscription } from '../generated/graphql.js';
import { waitFor } from '../helpers/redis.js';
import {
  type Collected,
  collect,
  dataOf,
  execute,
  type GraphQLBody,
  gql,
  useLiveGateways,
} from './helpers.js';

const { pool, redis } = useLiveGateways();

/** The same request as TestLiveConsume, for a prefetch the gateway must refuse. */
const CONSUME = TestLiveConsumeDocument.toString();
const ACK = 'mutation Ack($id: ID!) { ack(deliveryId: $id) }';
const NACK = 'mutation Nack($id: ID!) { nack(deliveryId: $id, reason: PROCESSING, retryAfterMs: 0) }';

type Stream = Collected<GraphQLBody<TestLiveConsumeSubscription>>;
const deliveries = (stream: Stream) =>
  stream.results.flatMap((result) => (result.data ? [result.data.consume] : []));
const payloadsOf = (stream: Stream) => deliveries(stream).map((delivery) => delivery.message.payload);

async function consumerQueue(settings: Partial<CreateQueueInput> = {}) {
  const started = await pool.start(redis.url);
  await started.gateway.engine.createTopic({ name: 'jobs', kind: 'FANOUT' });
  await started.gateway.engine.createQueue({ topic: 'jobs', name: 'work', target: 'CONSUMER', ...settings });
  return started;
}

async function publish(gateway: Gateway, count: number, from = 0) {
  await gateway.engine.publishBatch(
    Array.from({ length: count }, (_, n) => ({ topic: 'jobs', payload: from + n })),
  );
}

const depth = (gateway: Gateway) => gateway.engine.queueStats({ topic: 'jobs', name: 'work' });

/** Acks every delivery each stream gets, on its own client, as a worker would, until `count` are acked. */
async function ackEverything(
  clients: Client[],
  streams: Stream[],
  count: number,
  timeoutMs: number,
): Promise<void> {
  const acked = new Set<string>();
  await waitFor(
    async () => {
      for (const [index, stream] of streams.entries()) {
        for (const delivery of deliveries(stream)) {
          if (acked.has(delivery.id)) continue;
          acked.add(delivery.id);
          const client = clients[index];
          if (client) await execute(client, ACK, { id: delivery.id });
        }
      }
      return acked.size === count;
    },
    { timeoutMs, message: 'not every message was consumed' },
  );
}

describe('Subscription.consume', () => {
  it('should push at most prefetch unacked deliveries, and one more after each ack', async () => {
    const { gateway, url } = await consumerQueue();
    const client = pool.client(url);
    await publish(gateway, 5);
    const stream = collect(client, TestLiveConsumeDocument, { prefetch: 2 });

    await waitFor(() => deliveries(stream).length === 2, { message: 'the first two never came' });
    // The pump holds exactly two: the other three wait in the queue, untaken.
    await waitFor(async () => {
      const stats = await depth(gateway);
      return stats.active === 2 && stats.waiting === 3;
    });
    expect(gateway.engine.consumeSize).toEqual({ subscribers: 1, unacked: 2 });
    expect(deliveries(stream).length).toBe(2);

    const [first] = deliveries(stream);
    expect(dataOf(await execute(client, ACK, { id: first?.id }))).toEqual({ ack: true });
    await waitFor(() => deliveries(stream).length === 3, { message: 'the ack did not bring a third' });

    for (const delivery of deliveries(stream).slice(1)) await execute(client, ACK, { id: delivery.id });
    await waitFor(() => deliveries(stream).length === 5);
    for (const delivery of deliveries(stream).slice(3)) await execute(client, ACK, { id: delivery.id });
    await waitFor(async () => (await depth(gateway)).completed === 5);
    expect(payloadsOf(stream)).toEqual([0, 1, 2, 3, 4]);
    expect(deliveries(stream).every((delivery) => delivery.attempt === 1 && delivery.queue === 'work')).toBe(
      true,
    );
  });

  it('should push messages published after it started', async () => {
    const { gateway, url } = await consumerQueue();
    const stream = collect(pool.client(url), TestLiveConsumeDocument, { prefetch: 10 });
    await waitFor(() => gateway.engine.consumeSize.subscribers === 1);

    await publish(gateway, 3);

    await waitFor(() => deliveries(stream).length === 3, { message: 'the pump never woke for new messages' });
    expect(payloadsOf(stream)).toEqual([0, 1, 2]);
  });

  it('should share a queue between subscribers: every message to exactly one of them', async () => {
    const { gateway, url } = await consumerQueue();
    const clients = [pool.client(url), pool.client(url), pool.client(url)];
    const streams = clients.map((client) => collect(client, TestLiveConsumeDocument, { prefetch: 2 }));
    await waitFor(() => gateway.engine.consumeSize.subscribers === 3);
    await publish(gateway, 30);

    await ackEverything(clients, streams, 30, 10_000);

    const all = streams.flatMap(payloadsOf);
    expect(all.length).toBe(30);
    expect(new Set(all).size).toBe(30);
    // Credits of 2 each: nobody could take everything while the others had room.
    expect(streams.every((stream) => deliveries(stream).length > 0)).toBe(true);
    await waitFor(async () => (await depth(gateway)).completed === 30);
  });

  it('should share a queue between subscribers on two instances, waking the idle one for new messages', async () => {
    const { gateway, url, prefix } = await consumerQueue();
    const other = await pool.start(redis.url, { SWITCHYARD_PREFIX: prefix });
    const clients = [pool.client(url), pool.client(other.url)];
    const streams = clients.map((client) => collect(client, TestLiveConsumeDocument, { prefetch: 1 }));
    await waitFor(
      () =>
        gateway.engine.consumeSize.subscribers === 1 && other.gateway.engine.consumeSize.subscribers === 1,
    );

    // Published while both pumps wait on an empty queue: BullMQ's marker wakes them.
    await publish(gateway, 20);
    await ackEverything(clients, streams, 20, 15_000);

    const all = streams.flatMap(payloadsOf);
    expect(new Set(all).size).toBe(20);
    expect(all.length).toBe(20);
    expect(streams.every((stream) => deliveries(stream).length > 0)).toBe(true);
  });

  it.each([
    ['a priority queue', {}],
    ['a FIFO queue', { maxPriority: 0 }],
  ])(
    'should redeliver the unacked deliveries of a closed socket to the others at once, on %s',
    async (_, queue) => {
      // A visibility timeout far beyond the test: only the close can bring the messages back this soon.
      const { gateway, url } = await consumerQueue({ ackTimeoutMs: 120_000, ...queue });
      const leaving = pool.client(url);
      const gone = collect(leaving, TestLiveConsumeDocument, { prefetch: 3 });
      await publish(gateway, 3);
      await waitFor(() => deliveries(gone).length === 3);
      const staying = collect(pool.client(url), TestLiveConsumeDocument, { prefetch: 10 });
      await waitFor(() => gateway.engine.consumeSize.subscribers === 2);

      const closedAt = Date.now();
      await leaving.dispose();

      await waitFor(() => deliveries(staying).length === 3, {
        message: 'the released deliveries never came back',
      });
      expect(Date.now() - closedAt).toBeLessThan(5_000);
      expect(payloadsOf(staying).sort()).toEqual([0, 1, 2]);
      // A redelivery is a new attempt with a new delivery id; the old ids no longer ack anything.
      expect(deliveries(staying).every((delivery) => delivery.attempt === 2)).toBe(true);
      const stale = await gql(url, ACK, { id: deliveries(gone)[0]?.id });
      expect(stale.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    },
  );

  it('should give the credit back on nack and redeliver the nacked message', async () => {
    const { gateway, url } = await consumerQueue();
    const client = pool.client(url);
    const stream = collect(client, TestLiveConsumeDocument, { prefetch: 1 });
    await publish(gateway, 1);
    await waitFor(() => deliveries(stream).length === 1);

    expect(dataOf(await execute(client, NACK, { id: deliveries(stream)[0]?.id }))).toEqual({ nack: true });

    await waitFor(() => deliveries(stream).length === 2, { timeoutMs: 10_000 });
    expect(deliveries(stream).map((delivery) => [delivery.message.payload, delivery.attempt])).toEqual([
      [0, 1],
      [0, 2],
    ]);
  });

  it('should give the credit back when the delivery is acked through another instance', async () => {
    const { gateway, url, prefix } = await consumerQueue();
    const other = await pool.start(redis.url, { SWITCHYARD_PREFIX: prefix });
    const stream = collect(pool.client(url), TestLiveConsumeDocument, { prefetch: 1 });
    await publish(gateway, 2);
    await waitFor(() => deliveries(stream).length === 1);

    const acked = await gql(other.url, ACK, { id: deliveries(stream)[0]?.id });

    expect(acked).toEqual({ data: { ack: true } });
    await waitFor(() => deliveries(stream).length === 2, {
      message: 'the remote ack never gave the credit back',
    });
  });

  it('should not hand out again, on AT_MOST_ONCE queues, what a closed socket may have seen', async () => {
    const { gateway, url } = await consumerQueue({ deliveryMode: 'AT_MOST_ONCE', ackTimeoutMs: 120_000 });
    const leaving = pool.client(url);
    const stream = collect(leaving, TestLiveConsumeDocument, { prefetch: 1 });
    await publish(gateway, 1);
    await waitFor(() => deliveries(stream).length === 1);

    await leaving.dispose();

    await waitFor(() => gateway.engine.consumeSize.subscribers === 0);
    expect(await depth(gateway)).toMatchObject({ active: 1, waiting: 0 });
  });

  it('should refuse a webhook queue, a bad prefetch and an unknown queue', async () => {
    const { gateway, url } = await consumerQueue();
    await gateway.engine.createQueue({
      topic: 'jobs',
      name: 'hook',
      target: 'WEBHOOK',
      url: 'http://127.0.0.1:9/x',
    });
    const client = pool.client(url);
    const refusal = async (query: string, variables?: Record<string, unknown>) => {
      const stream = collect<GraphQLBody>(client, query, variables);
      await waitFor(() => stream.completed);
      return stream.results[0]?.errors?.[0]?.extensions?.code;
    };

    expect(await refusal('subscription { consume(topic: "jobs", queue: "hook") { id } }')).toBe(
      'BAD_USER_INPUT',
    );
    expect(await refusal(CONSUME, { prefetch: 0 })).toBe('BAD_USER_INPUT');
    expect(await refusal(CONSUME, { prefetch: 1001 })).toBe('BAD_USER_INPUT');
    expect(await refusal('subscription { consume(topic: "jobs", queue: "nope") { id } }')).toBe('NOT_FOUND');
    expect(gateway.engine.consumeSize.subscribers).toBe(0);
  });

  it('should end the stream with NOT_FOUND when its queue is deleted', async () => {
    const { gateway, url } = await consumerQueue();
    const stream = collect(pool.client(url), TestLiveConsumeDocument, { prefetch: 1 });
    await waitFor(() => gateway.engine.consumeSize.subscribers === 1);

    await gateway.engine.deleteQueue('jobs', 'work');

    await waitFor(() => stream.errors.length > 0 || stream.completed, { timeoutMs: 10_000 });
    expect(JSON.stringify(stream.errors)).toMatch(/does not exist/);
    expect(gateway.engine.consumeSize.subscribers).toBe(0);
  });
});
