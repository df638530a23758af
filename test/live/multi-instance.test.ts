import { createClient } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  TestLivePublishBatchDocument,
  TestLivePublishRoutedDocument,
  TestLiveQueueDepthDocument,
  TestLiveQueueEventsDocument,
  TestLiveTailPayloadsDocument,
  TestLiveTopicQueuesDocument,
} from '../generated/graphql.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { startTestRedis, type TestRedis, uniquePrefix, waitFor } from '../helpers/redis.js';
import { type ChildGateway, collect, dataOf, gql, spawnGateway, testEnv, warmUp } from './helpers.js';

/**
 * Several gateway processes on one Redis: none of them is special. Each gateway here is a real child
 * process (test/live/fixtures/gateway-child.ts), so nothing is shared between them but Redis.
 */

let redis: TestRedis;
const children: ChildGateway[] = [];
const receivers: Receiver[] = [];
const disposers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterEach(async () => {
  await Promise.allSettled(disposers.splice(0).map((dispose) => dispose()));
  await Promise.all(children.splice(0).map((child) => child.stop()));
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});
afterAll(async () => {
  await redis?.stop();
});

/** Two gateways of one deployment: the same Redis and key prefix. */
async function twoInstances(): Promise<[ChildGateway, ChildGateway]> {
  const env = testEnv({ SWITCHYARD_PREFIX: uniquePrefix() });
  const [a, b] = await Promise.all([spawnGateway(redis.url, env), spawnGateway(redis.url, env)]);
  children.push(a, b);
  return [a, b];
}

function wsClient(url: string) {
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
  });
  disposers.push(async () => {
    await client.dispose();
  });
  return client;
}

const publish = (url: string, payload: unknown) =>
  gql(
    url,
    'mutation ($payload: JSON!) { publish(input: { topic: "orders", payload: $payload }) { messageId } }',
    {
      payload,
    },
  ).then(dataOf);

describe('several gateway instances on one Redis', { timeout: 90_000 }, () => {
  it('should deliver to a websocket on one instance what was published through another', async () => {
    const [a, b] = await twoInstances();
    dataOf(await gql(a.url, 'mutation { createTopic(input: { name: "orders", kind: FANOUT }) { name } }'));
    const tailed = collect(wsClient(b.url), TestLiveTailPayloadsDocument, { topic: 'orders' });
    const payloads = () => tailed.results.map((result) => result.data?.messages.payload);
    await warmUp(
      () => publish(a.url, 'warm-up'),
      () => tailed.results.length > 0,
    );

    for (let n = 0; n < 10; n++) await publish(a.url, n);

    await waitFor(() => payloads().includes(9), { message: 'B never saw what A published' });
    expect(payloads().filter((payload) => payload !== 'warm-up')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("should share one queue's webhook deliveries between both instances, none delivered twice", async () => {
    const [a, b] = await twoInstances();
    const receiver = await startReceiver();
    receivers.push(receiver);
    // A little work per request, so that both instances' workers get a share.
    receiver.respond = () => ({ status: 204, delayMs: 5 });
    dataOf(await gql(a.url, 'mutation { createTopic(input: { name: "orders", kind: FANOUT }) { name } }'));
    dataOf(
      await gql(
        a.url,
        'mutation ($url: String!) { createQueue(input: { topic: "orders", name: "hook", target: WEBHOOK, url: $url, concurrency: 4 }) { name } }',
        { url: receiver.url },
      ),
    );
    // B learns of the queue from A's announcement and starts a worker without restarting.
    for (const instance of [a, b]) {
      await waitFor(
        async () =>
          ((await (await fetch(new URL('/health', instance.url))).json()) as { workers: number }).workers ===
          1,
        { message: 'an instance never started the webhook worker' },
      );
    }
    // B also reports every DELIVERED, whichever instance delivered it.
    const events = collect(wsClient(b.url), TestLiveQueueEventsDocument, { topic: 'orders', queue: 'hook' });
    await warmUp(
      () => publish(a.url, 'warm-up'),
      () => events.results.length > 0,
      10_000,
    );

    const published = dataOf(
      await gql(a.url, TestLivePublishBatchDocument, {
        inputs: Array.from({ length: 200 }, (_, n) => ({ topic: 'orders', payload: n })),
      }),
    ).publishBatch.map((result) => result.messageId);
    const ours = new Set(published);
    const deliveredIds = () =>
      receiver.requests.map((request) => String(request.headers['webhook-id'])).filter((id) => ours.has(id));

    await waitFor(() => new Set(deliveredIds()).size === 200, { timeoutMs: 20_000 });
    // Each instance counts what its own workers delivered (a DELIVERED follows the receiver's answer).
    const mine = (ids: string[]) => ids.filter((id) => ours.has(id)).length;
    const shares = await waitFor(async () => {
      const answers = await Promise.all([
        a.request<'delivered'>('delivered'),
        b.request<'delivered'>('delivered'),
      ]);
      const counted = answers.map((answer) => mine(answer.messageIds));
      return (counted[0] ?? 0) + (counted[1] ?? 0) === 200 ? counted : undefined;
    });
    const [byA, byB] = shares ?? [];
    expect(byA).toBeGreaterThan(0);
    expect(byB).toBeGreaterThan(0);
    const reported = () =>
      events.results.filter((result) => ours.has(result.data?.deliveryEvents.messageId ?? '')).length;
    await waitFor(() => reported() === 200, { message: 'B did not report every delivery' });
    // No message was posted twice, and none is still coming: every job of the batch is complete.
    expect(deliveredIds().length).toBe(200);
    const counts = dataOf(await gql(b.url, TestLiveQueueDepthDocument, { topic: 'orders', name: 'hook' }));
    expect(counts.queue?.stats).toEqual({ waiting: 0, active: 0, delayed: 0 });
  });

  it('should see topics and queues created on another instance without a restart', async () => {
    const [a, b] = await twoInstances();
    // B answers (and caches) the empty topology first, so the test shows its cache being dropped.
    expect(dataOf(await gql(b.url, '{ topics { name } }'))).toEqual({ topics: [] });

    dataOf(await gql(a.url, 'mutation { createTopic(input: { name: "orders", kind: TOPIC }) { name } }'));
    dataOf(
      await gql(
        a.url,
        'mutation { createQueue(input: { topic: "orders", name: "pull", bindingKey: "#", target: CONSUMER }) { name } }',
      ),
    );

    await waitFor(async () => {
      const { topic } = dataOf(await gql(b.url, TestLiveTopicQueuesDocument, { name: 'orders' }));
      return topic?.queues.some((queue) => queue.name === 'pull');
    });
    // And B routes with it: a publish through B lands in the queue A created.
    const routed = dataOf(
      await gql(b.url, TestLivePublishRoutedDocument, { topic: 'orders', routingKey: 'x.y', payload: 1 }),
    );
    expect(routed.publish.routedTo).toEqual(['pull']);
  });
});
