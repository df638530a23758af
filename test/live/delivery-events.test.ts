import type { Client } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../server/gateway.js';
import {
  TestLiveEventsDocument,
  type TestLiveEventsSubscription,
  type TestLiveEventsSubscriptionVariables,
} from '../generated/graphql.js';
import { startReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';
import { type Collected, collect, type GraphQLBody, useLiveGateways, warmUp } from './helpers.js';

const { pool, redis, receivers } = useLiveGateways();

/** The same request as TestLiveEvents, for a topic the gateway must refuse. */
const EVENTS = TestLiveEventsDocument.toString();

type Stream = Collected<GraphQLBody<TestLiveEventsSubscription>>;
const eventsOf = (stream: Stream) =>
  stream.results.flatMap((result) => (result.data ? [result.data.deliveryEvents] : []));
const FAST_RETRY = { maxAttempts: 3, backoff: 'FIXED', delayMs: 20, jitter: false } as const;

/** Subscribes and waits until events flow; `warm` makes one event the subscription lets through. */
async function watch(
  client: Client,
  variables: TestLiveEventsSubscriptionVariables,
  warm: () => Promise<unknown>,
) {
  const stream = collect(client, TestLiveEventsDocument, variables);
  await warmUp(warm, () => stream.results.length > 0);
  return stream;
}

async function webhookTopic(gateway: Gateway) {
  const receiver = await startReceiver();
  receivers.push(receiver);
  await gateway.engine.createTopic({ name: 'orders', kind: 'FANOUT' });
  await gateway.engine.createQueue({
    topic: 'orders',
    name: 'hook',
    target: 'WEBHOOK',
    url: receiver.url,
    retry: FAST_RETRY,
  });
  await waitFor(() => gateway.engine.webhookWorkers === 1);
  return receiver;
}

describe('Subscription.deliveryEvents', () => {
  it('should report PUBLISHED and then DELIVERED for a webhook delivery', async () => {
    const { gateway, url } = await pool.start(redis.url);
    await webhookTopic(gateway);
    const stream = await watch(pool.client(url), { topic: 'orders' }, () =>
      gateway.engine.publish({ topic: 'orders', payload: 'warm-up' }),
    );

    const { messageId } = await gateway.engine.publish({ topic: 'orders', payload: 'real' });

    await waitFor(() =>
      eventsOf(stream).some((event) => event.messageId === messageId && event.kind === 'DELIVERED'),
    );
    const mine = eventsOf(stream).filter((event) => event.messageId === messageId);
    expect(mine).toEqual([
      {
        kind: 'PUBLISHED',
        topic: 'orders',
        queue: null,
        messageId,
        attempt: null,
        reason: null,
        error: null,
        droppedBefore: 0,
      },
      {
        kind: 'DELIVERED',
        topic: 'orders',
        queue: 'hook',
        messageId,
        attempt: 1,
        reason: null,
        error: null,
        droppedBefore: 0,
      },
    ]);
  });

  it('should report RETRYING with its reason, then DELIVERED on the next attempt', async () => {
    const { gateway, url } = await pool.start(redis.url);
    const receiver = await webhookTopic(gateway);
    const stream = await watch(pool.client(url), { topic: 'orders', queue: 'hook' }, () =>
      gateway.engine.publish({ topic: 'orders', payload: 'warm-up' }),
    );
    receiver.respond = (_index, request) =>
      request.body.includes('flaky') && receiver.requests.filter((r) => r.body.includes('flaky')).length === 1
        ? { status: 503 }
        : { status: 204 };

    const { messageId } = await gateway.engine.publish({ topic: 'orders', payload: 'flaky' });

    await waitFor(() =>
      eventsOf(stream).some((event) => event.messageId === messageId && event.kind === 'DELIVERED'),
    );
    const mine = eventsOf(stream).filter((event) => event.messageId === messageId);
    expect(mine.map((event) => [event.kind, event.attempt, event.reason])).toEqual([
      ['RETRYING', 1, 'PROCESSING'],
      ['DELIVERED', 2, null],
    ]);
    // Filtered by queue: no PUBLISHED (it belongs to no queue).
    expect(eventsOf(stream).every((event) => event.queue === 'hook')).toBe(true);
  });

  it('should report FAILED with CIRCUIT_OPEN when a failure opens the queue circuit', async () => {
    const { gateway, url } = await pool.start(redis.url, {
      SWITCHYARD_CIRCUIT_FAILURES: '1',
      SWITCHYARD_CIRCUIT_COOLDOWN_MS: '500',
    });
    const receiver = await webhookTopic(gateway);
    const stream = await watch(pool.client(url), { topic: 'orders', queue: 'hook' }, () =>
      gateway.engine.publish({ topic: 'orders', payload: 'warm-up' }),
    );
    receiver.respond = (_index, request) =>
      request.body.includes('down') ? { status: 503 } : { status: 204 };

    const { messageId } = await gateway.engine.publish({ topic: 'orders', payload: 'down' });

    // Both events of the failed attempt travel the websocket separately; wait for the pair.
    await waitFor(
      () =>
        eventsOf(stream).some((event) => event.reason === 'CIRCUIT_OPEN') &&
        eventsOf(stream).some((event) => event.kind === 'RETRYING' && event.messageId === messageId),
      { message: 'the CIRCUIT_OPEN and RETRYING events of the failed attempt' },
    );
    const opened = eventsOf(stream).find((event) => event.reason === 'CIRCUIT_OPEN');
    expect(opened).toMatchObject({ kind: 'FAILED', queue: 'hook', messageId, attempt: 1 });
    expect(opened?.error).toMatch(/held back until .*, then probed/);
    // The message's own failure is reported as usual.
    expect(eventsOf(stream)).toContainEqual(
      expect.objectContaining({ kind: 'RETRYING', messageId, attempt: 1, reason: 'PROCESSING' }),
    );
  });

  it('should report consumer acks as DELIVERED and a rejecting nack as DEAD_LETTERED', async () => {
    const { gateway, url } = await pool.start(redis.url);
    await gateway.engine.createTopic({ name: 'jobs', kind: 'FANOUT' });
    await gateway.engine.createQueue({ topic: 'jobs', name: 'pull', target: 'CONSUMER' });
    const stream = await watch(pool.client(url), { topic: 'jobs' }, () =>
      gateway.engine.publish({ topic: 'jobs', payload: 'warm-up' }),
    );
    await gateway.engine.publishBatch([
      { topic: 'jobs', payload: 'ok' },
      { topic: 'jobs', payload: 'bad' },
    ]);

    const taken = await gateway.engine.receive('jobs', 'pull', 100, 0);
    const ok = taken.find((delivery) => delivery.message.payload === 'ok');
    const bad = taken.find((delivery) => delivery.message.payload === 'bad');
    if (!ok || !bad) throw new Error('both messages should have been received');
    await gateway.engine.ack(ok.id);
    await gateway.engine.nack(bad.id, 'REJECTED', 'malformed order');

    await waitFor(() => eventsOf(stream).filter((event) => event.queue === 'pull').length >= 2);
    const byMessage = (id: string) =>
      eventsOf(stream).filter((event) => event.messageId === id && event.queue);
    expect(byMessage(ok.message.id).map((event) => event.kind)).toEqual(['DELIVERED']);
    expect(byMessage(bad.message.id).map((event) => [event.kind, event.reason, event.error])).toEqual([
      ['DEAD_LETTERED', 'REJECTED', 'malformed order'],
    ]);
  });

  it('should report the events of every topic when no topic is given', async () => {
    const { gateway, url } = await pool.start(redis.url);
    await gateway.engine.createTopic({ name: 'a', kind: 'FANOUT' });
    await gateway.engine.createTopic({ name: 'b', kind: 'FANOUT' });
    const stream = await watch(pool.client(url), {}, () =>
      gateway.engine.publish({ topic: 'a', payload: 'warm-up' }),
    );

    const fromA = await gateway.engine.publish({ topic: 'a', payload: 1 });
    const fromB = await gateway.engine.publish({ topic: 'b', payload: 2 });

    await waitFor(() => eventsOf(stream).some((event) => event.messageId === fromB.messageId));
    const ids = eventsOf(stream).map((event) => [event.topic, event.messageId]);
    expect(ids).toContainEqual(['a', fromA.messageId]);
    expect(ids).toContainEqual(['b', fromB.messageId]);
  });

  it('should refuse an unknown topic with NOT_FOUND', async () => {
    const { url } = await pool.start(redis.url);
    const stream = collect<GraphQLBody>(pool.client(url), EVENTS, { topic: 'nope' });
    await waitFor(() => stream.completed);
    expect(stream.results[0]?.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
