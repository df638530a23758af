import type { Client } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import type { PublishInput } from '../../queues/publish/publisher.js';
import type { Gateway } from '../../server/gateway.js';
import {
  TestLiveTailDocument,
  type TestLiveTailSubscription,
  type TestLiveTailSubscriptionVariables,
} from '../generated/graphql.js';
import { waitFor } from '../helpers/redis.js';
import { type Collected, collect, type GraphQLBody, useLiveGateways, warmUp } from './helpers.js';

const { pool, redis } = useLiveGateways();

/** The same request as TestLiveTail, for filters the gateway must refuse. */
const TAIL = TestLiveTailDocument.toString();

const payloads = (tailed: Collected<GraphQLBody<TestLiveTailSubscription>>) =>
  tailed.results.map((result) => result.data?.messages.payload);

/**
 * Subscribes and waits until the tail is live: `warm` must be a publish the filter lets through.
 * Answers the tail with the warm-up messages cleared.
 */
async function tail(
  gateway: Gateway,
  client: Client,
  variables: TestLiveTailSubscriptionVariables,
  warm: Omit<PublishInput, 'payload'>,
) {
  const tailed = collect(client, TestLiveTailDocument, variables);
  await warmUp(
    () => gateway.engine.publish({ ...warm, payload: 'warm-up' }),
    () => tailed.results.length > 0,
  );
  // Warm-ups still on their way would be counted as test messages: wait for one marked as the last.
  await gateway.engine.publish({ ...warm, payload: 'warm-up-done' });
  await waitFor(() => payloads(tailed).includes('warm-up-done'), { message: 'the warm-up never finished' });
  tailed.results.length = 0;
  return tailed;
}

/** Publishes each message, then a marker, and answers the payloads the tail saw before the marker. */
async function seenOf(
  gateway: Gateway,
  tailed: Collected<GraphQLBody<TestLiveTailSubscription>>,
  inputs: PublishInput[],
  marker: Omit<PublishInput, 'payload'>,
) {
  for (const input of inputs) await gateway.engine.publish(input);
  await gateway.engine.publish({ ...marker, payload: 'end' });
  await waitFor(() => payloads(tailed).includes('end'), { message: 'the end marker never arrived' });
  return payloads(tailed).slice(0, -1);
}

describe('Subscription.messages', () => {
  it('should push every message published from now on, in order, with droppedBefore 0', async () => {
    const { gateway, url } = await pool.start(redis.url);
    await gateway.engine.createTopic({ name: 'orders', kind: 'TOPIC' });
    const tailed = await tail(gateway, pool.client(url), { topic: 'orders' }, { topic: 'orders' });

    const ids: string[] = [];
    for (let n = 0; n < 20; n++) {
      ids.push(
        (await gateway.engine.publish({ topic: 'orders', routingKey: `order.${n}`, payload: n })).messageId,
      );
    }

    await waitFor(() => tailed.results.length === 20, { message: 'not every message arrived' });
    expect(payloads(tailed)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(tailed.results.map((result) => result.data?.messages.id)).toEqual(ids);
    expect(tailed.results.every((result) => result.data?.messages.droppedBefore === 0)).toBe(true);
    expect(tailed.errors).toEqual([]);
  });

  it('should see messages published over HTTP and in batches, and not those refused', async () => {
    const { gateway, url } = await pool.start(redis.url);
    await gateway.engine.createTopic({ name: 'orders', kind: 'FANOUT', maxMessageBytes: 100 });
    const tailed = await tail(gateway, pool.client(url), { topic: 'orders' }, { topic: 'orders' });

    await gateway.engine.publishBatch([
      { topic: 'orders', payload: 'a' },
      { topic: 'orders', payload: 'b' },
    ]);
    await expect(gateway.engine.publish({ topic: 'orders', payload: 'x'.repeat(200) })).rejects.toThrow(
      /bytes/,
    );
    const seen = await seenOf(gateway, tailed, [], { topic: 'orders' });

    expect(seen).toEqual(['a', 'b']);
  });

  it('should filter by bindingKey as a TOPIC pattern', async () => {
    const { gateway, url } = await pool.start(redis.url);
    await gateway.engine.createTopic({ name: 'orders', kind: 'TOPIC' });
    const tailed = await tail(
      gateway,
      pool.client(url),
      { topic: 'orders', bindingKey: 'order.*.created' },
      { topic: 'orders', routingKey: 'order.warm.created' },
    );

    const keys = [
      'order.eu.created',
      'order.eu.paid',
      'order.us.created',
      'order.created',
      'order.a.b.created',
    ];
    const seen = await seenOf(
      gateway,
      tailed,
      keys.map((routingKey) => ({ topic: 'orders', routingKey, payload: routingKey })),
      { topic: 'orders', routingKey: 'order.end.created' },
    );

    expect(seen).toEqual(['order.eu.created', 'order.us.created']);
  });

  it('should take a DIRECT bindingKey literally', async () => {
    const { gateway, url } = await pool.start(redis.url);
    await gateway.engine.createTopic({ name: 'jobs', kind: 'DIRECT' });
    const tailed = await tail(
      gateway,
      pool.client(url),
      { topic: 'jobs', bindingKey: 'a.*' },
      { topic: 'jobs', routingKey: 'a.*' },
    );

    const seen = await seenOf(
      gateway,
      tailed,
      ['a.b', 'a.*', 'a'].map((routingKey) => ({ topic: 'jobs', routingKey, payload: routingKey })),
      { topic: 'jobs', routingKey: 'a.*' },
    );

    expect(seen).toEqual(['a.*']);
  });

  it('should filter by headers, ALL by default and ANY when asked, names case-insensitive', async () => {
    const { gateway, url } = await pool.start(redis.url);
    await gateway.engine.createTopic({ name: 'events', kind: 'HEADERS' });
    const client = pool.client(url);
    const all = await tail(
      gateway,
      client,
      { topic: 'events', headers: { Region: 'eu', tier: 'gold' } },
      { topic: 'events', headers: { region: 'eu', tier: 'gold' } },
    );
    const any = await tail(
      gateway,
      client,
      { topic: 'events', headers: { region: 'eu', tier: 'gold' }, headerMatch: 'ANY' },
      { topic: 'events', headers: { region: 'eu', tier: 'gold' } },
    );
    all.results.length = 0;

    const inputs = [
      { topic: 'events', headers: { REGION: 'eu', tier: 'gold' }, payload: 'both' },
      { topic: 'events', headers: { region: 'eu' }, payload: 'region' },
      { topic: 'events', headers: { tier: 'silver' }, payload: 'neither' },
    ];
    const seenByAny = await seenOf(gateway, any, inputs, {
      topic: 'events',
      headers: { region: 'eu', tier: 'gold' },
    });
    await waitFor(() => payloads(all).includes('end'));

    expect(payloads(all).slice(0, -1)).toEqual(['both']);
    expect(seenByAny).toEqual(['both', 'region']);
  });

  it('should refuse an unknown topic with NOT_FOUND and a bad filter with BAD_USER_INPUT', async () => {
    const { gateway, url } = await pool.start(redis.url);
    await gateway.engine.createTopic({ name: 'orders', kind: 'TOPIC' });
    const client = pool.client(url);

    const unknown = collect<GraphQLBody>(client, TAIL, { topic: 'nope' });
    const badPattern = collect<GraphQLBody>(client, TAIL, { topic: 'orders', bindingKey: 'order.x#' });
    const badHeaders = collect<GraphQLBody>(client, TAIL, { topic: 'orders', headers: { region: 1 } });
    // A refused subscribe answers one result with the error, then completes (graphql-ws `next`, `complete`).
    await waitFor(() => unknown.completed && badPattern.completed && badHeaders.completed);

    const code = (collected: Collected<GraphQLBody>) => collected.results[0]?.errors?.[0]?.extensions?.code;
    expect(code(unknown)).toBe('NOT_FOUND');
    expect(code(badPattern)).toBe('BAD_USER_INPUT');
    expect(code(badHeaders)).toBe('BAD_USER_INPUT');
  });

  it('should feed identical subscriptions from one execution and keep feeding the others when one leaves', async () => {
    const { gateway, url } = await pool.start(redis.url);
    await gateway.engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const first = await tail(gateway, pool.client(url), { topic: 'orders' }, { topic: 'orders' });
    const second = await tail(gateway, pool.client(url), { topic: 'orders' }, { topic: 'orders' });
    first.results.length = 0;
    expect(gateway.sharedSubscriptions).toEqual({ groups: 1, listeners: 2 });

    await gateway.engine.publish({ topic: 'orders', payload: 1 });
    await waitFor(() => payloads(first).includes(1) && payloads(second).includes(1));
    first.stop();
    const seen = await seenOf(gateway, second, [{ topic: 'orders', payload: 2 }], { topic: 'orders' });
    const third = await tail(gateway, pool.client(url), { topic: 'orders' }, { topic: 'orders' });
    const seenByThird = await seenOf(gateway, third, [{ topic: 'orders', payload: 3 }], { topic: 'orders' });

    expect(gateway.sharedSubscriptions).toEqual({ groups: 1, listeners: 2 });
    expect(seen).toEqual([1, 2]);
    expect(seenByThird).toEqual([3]);
    expect(payloads(first)).toEqual([1]);
  });
});
