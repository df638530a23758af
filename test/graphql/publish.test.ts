import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type PublishInput,
  TestDrainDocument,
  type TestDrainMutation,
  TestPublishBatchDocument,
  TestPublishDocument,
  TestTopicPublishedDocument,
} from '../generated/graphql.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { type Harness, ok, present, refused, startHarness } from './yoga-client.js';

/** The same request as TestPublish, for input its variables' types forbid. */
const PUBLISH = TestPublishDocument.toString();

let redis: TestRedis;
let h: Harness;
beforeAll(async () => {
  redis = await startTestRedis();
});
beforeEach(async () => {
  h = await startHarness(redis);
  // A TOPIC exchange with two consumer queues on different patterns, and a typed, small topic.
  ok(
    await h.gql(`mutation {
      orders: createTopic(input: { name: "orders", kind: TOPIC }) { name }
      eu: createQueue(input: { topic: "orders", name: "eu", bindingKey: "order.eu.*", target: CONSUMER }) { name }
      all: createQueue(input: { topic: "orders", name: "all", bindingKey: "order.#", target: CONSUMER }) { name }
      typed: createTopic(input: {
        name: "typed", kind: FANOUT, maxMessageBytes: 64,
        payloadSchema: { type: "object", required: ["id"], properties: { id: { type: "integer" } } }
      }) { name }
      sink: createQueue(input: { topic: "typed", name: "sink", target: CONSUMER }) { name }
    }`),
  );
});
afterEach(async () => {
  await h?.close();
});
afterAll(async () => {
  await redis?.stop();
});

const publish = (input: PublishInput) => h.gqlDoc(TestPublishDocument, { input });
const publishBatch = (inputs: PublishInput[]) => h.gqlDoc(TestPublishBatchDocument, { inputs });

type MessageData = TestDrainMutation['receive'][number]['message'];

/** What a refused request must leave untouched: every queue's depth and the topics' counters. */
async function snapshot() {
  return ok(
    await h.gql(`{ topics { name stats { published unrouted deadLettered }
      queues { name stats { waiting active delayed completed failed deadLettered paused } } } }`),
  );
}

/** Takes every waiting message of a queue (and acks it), so a test can look at what was stored. */
async function drain(topic: string, queue: string): Promise<MessageData[]> {
  const { receive } = ok(await h.gqlDoc(TestDrainDocument, { topic, queue }));
  for (const delivery of receive) {
    ok(await h.gql('mutation ($id: ID!) { ack(deliveryId: $id) }', { id: delivery.id }));
  }
  return receive.map((delivery) => delivery.message);
}

describe('publish', () => {
  it('should route by pattern and answer the queues it reached', async () => {
    expect(
      ok(await publish({ topic: 'orders', routingKey: 'order.eu.created', payload: { id: 1 } })).publish,
    ).toEqual({
      messageId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      duplicate: false,
      routedTo: ['all', 'eu'],
    });
    expect(
      ok(await publish({ topic: 'orders', routingKey: 'order.us.created', payload: { id: 2 } })).publish
        .routedTo,
    ).toEqual(['all']);
  });

  it('should accept and count a message that matches no queue', async () => {
    const { publish: result } = ok(
      await publish({ topic: 'orders', routingKey: 'invoice.paid', payload: {} }),
    );
    expect(result).toMatchObject({ duplicate: false, routedTo: [] });
    const { topic } = ok(await h.gqlDoc(TestTopicPublishedDocument, { name: 'orders' }));
    expect(present(topic, 'topic orders').stats).toEqual({ published: 1, unrouted: 1 });
  });

  it('should store every field of the message as it was published', async () => {
    const { publish: result } = ok(
      await publish({
        topic: 'orders',
        routingKey: 'order.eu.created',
        payload: { id: 7, lines: [{ sku: 'a', qty: 2 }] },
        headers: { tenant: 'acme' },
        priority: 9,
        ttlMs: 60_000,
        correlationId: 'c-1',
        replyTo: 'replies',
        idempotencyKey: 'order-7',
        orderingKey: 'customer-7',
      }),
    );
    const [message] = await drain('orders', 'eu');
    expect(message).toEqual({
      id: result.messageId,
      topic: 'orders',
      routingKey: 'order.eu.created',
      headers: { tenant: 'acme' },
      payload: { id: 7, lines: [{ sku: 'a', qty: 2 }] },
      priority: 9,
      correlationId: 'c-1',
      replyTo: 'replies',
      idempotencyKey: 'order-7',
      publishedAt: expect.any(String),
      expiresAt: expect.any(String),
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      sizeBytes: Buffer.byteLength(JSON.stringify({ id: 7, lines: [{ qty: 2, sku: 'a' }] })),
      orderingKey: 'customer-7',
    });
    expect(Date.parse(message?.expiresAt ?? '') - Date.parse(message?.publishedAt ?? '')).toBe(60_000);
  });

  it.each([
    ['an array', [1, 'two', { three: 3 }]],
    ['a string', 'hello'],
    ['a number', 12.5],
    ['a boolean', false],
    ['an object holding null', { gone: null }],
  ])('should take %s as the JSON payload and hand it back unchanged', async (_, payload) => {
    ok(await publish({ topic: 'orders', routingKey: 'order.eu.x', payload }));
    expect((await drain('orders', 'eu')).map((message) => message.payload)).toEqual([payload]);
  });

  it('should take a payload written inline in the operation, variables inside it included', async () => {
    ok(
      await h.gql(
        'mutation ($qty: Int) { publish(input: { topic: "orders", routingKey: "order.eu.x", payload: { sku: "a", qty: $qty, tags: ["x"] } }) { messageId } }',
        {
          qty: 3,
        },
      ),
    );
    expect((await drain('orders', 'eu')).map((message) => message.payload)).toEqual([
      { sku: 'a', qty: 3, tags: ['x'] },
    ]);
  });

  it('should hash the canonical payload, so key order does not change sha256', async () => {
    ok(await publish({ topic: 'orders', routingKey: 'order.eu.x', payload: { b: 1, a: { d: 2, c: 3 } } }));
    ok(
      await h.gql(
        'mutation { publish(input: { topic: "orders", routingKey: "order.eu.x", payload: { a: { c: 3, d: 2 }, b: 1 } }) { messageId } }',
      ),
    );
    const messages = await drain('orders', 'eu');
    const expected = createHash('sha256').update('{"a":{"c":3,"d":2},"b":1}').digest('hex');
    expect(messages.map((message) => message.sha256)).toEqual([expected, expected]);
  });

  it('should store a message once per idempotency key and answer duplicates with the first id', async () => {
    const input = {
      topic: 'orders',
      routingKey: 'order.eu.created',
      payload: { id: 1 },
      idempotencyKey: 'k-1',
    };
    const first = ok(await publish(input)).publish;
    const second = ok(await publish({ ...input, payload: { id: 'changed' } })).publish;
    expect(second).toEqual({ messageId: first.messageId, duplicate: true, routedTo: [] });
    expect((await drain('orders', 'eu')).map((message) => message.id)).toEqual([first.messageId]);
  });
});

describe('publish refusals', () => {
  it('should refuse an ordering key over 255 characters with BAD_USER_INPUT, storing nothing', async () => {
    const before = await snapshot();
    refused(
      await publish({ topic: 'orders', routingKey: 'order.eu.x', payload: 1, orderingKey: 'k'.repeat(256) }),
      'BAD_USER_INPUT',
      /orderingKey/,
    );
    expect(await snapshot()).toEqual(before);
  });

  it('should refuse a payload over the topic limit with PAYLOAD_TOO_LARGE, storing nothing', async () => {
    const before = await snapshot();
    const payload = { id: 1, pad: 'x'.repeat(100) };
    const size = Buffer.byteLength(JSON.stringify(payload));
    const error = refused(
      await publish({ topic: 'typed', payload }),
      'PAYLOAD_TOO_LARGE',
      `payload is ${size} bytes; topic typed takes at most 64`,
    );
    expect(error.extensions).toMatchObject({ sizeBytes: size, maxMessageBytes: 64 });
    expect(error.path).toEqual(['publish']);
    expect(await snapshot()).toEqual(before);
  });

  it('should refuse a payload that fails the topic schema with VALIDATION naming the path', async () => {
    const before = await snapshot();
    const error = refused(
      await publish({ topic: 'typed', payload: { id: 'one' } }),
      'VALIDATION',
      'payload/id must be integer',
    );
    expect(error.extensions).toMatchObject({ path: 'payload/id', keyword: 'type' });
    refused(await publish({ topic: 'typed', payload: [] }), 'VALIDATION', /^payload must be object/);
    expect(await snapshot()).toEqual(before);
  });

  it('should refuse a topic that does not exist with NOT_FOUND', async () => {
    const before = await snapshot();
    refused(await publish({ topic: 'nope', payload: {} }), 'NOT_FOUND', 'Topic nope does not exist');
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['a priority above 9', { priority: 10 }, 'priority must be an integer from 0 to 9, got 10'],
    ['a negative delay', { delayMs: -1 }, /^delayMs must be an integer/],
    ['a delay past the TTL', { delayMs: 5000, ttlMs: 1000 }, /delayMs must be shorter than ttlMs/],
    [
      'headers that are not a flat object of strings',
      { headers: { n: 1 } },
      'headers.n must be a string, got number',
    ],
    ['headers that are an array', { headers: ['a'] }, 'headers must be a flat object of string values'],
    ['an empty idempotency key', { idempotencyKey: '' }, /^idempotencyKey must be 1 to/],
  ])('should refuse %s with BAD_USER_INPUT, storing nothing', async (_, fields, message) => {
    const before = await snapshot();
    refused(
      await publish({ topic: 'orders', routingKey: 'order.eu.x', payload: {}, ...fields }),
      'BAD_USER_INPUT',
      message,
    );
    expect(await snapshot()).toEqual(before);
  });

  it('should refuse a publish whose idempotency key is being published right now with CONFLICT', async () => {
    // A claim left by a publish in flight elsewhere (another gateway, say).
    const client = redis.client();
    await client.set(h.engine.keys.idempotency('orders', 'busy'), 'pending:other', 'PX', 10_000);
    await client.quit();
    const before = await snapshot();
    refused(
      await publish({ topic: 'orders', routingKey: 'order.eu.x', payload: {}, idempotencyKey: 'busy' }),
      'CONFLICT',
      'A publish with idempotency key busy is in progress; retry once it has finished',
    );
    expect(await snapshot()).toEqual(before);
  });

  it('should refuse a null payload and a wrongly typed field before any resolver runs', async () => {
    const before = await snapshot();
    refused(await publish({ topic: 'orders', payload: null }), 'BAD_USER_INPUT', /JSON!/);
    refused(
      await h.gql(PUBLISH, { input: { topic: 'orders', payload: {}, priority: 'high' } }),
      'BAD_USER_INPUT',
      /priority/,
    );
    expect(await snapshot()).toEqual(before);
  });
});

describe('publishBatch', () => {
  it('should publish every input in order and answer one result each', async () => {
    const { publishBatch: results } = ok(
      await publishBatch([
        { topic: 'orders', routingKey: 'order.eu.created', payload: { n: 1 } },
        { topic: 'orders', routingKey: 'order.us.created', payload: { n: 2 } },
        { topic: 'typed', payload: { id: 3 } },
      ]),
    );
    expect(results.map((result) => result.routedTo)).toEqual([['all', 'eu'], ['all'], ['sink']]);
    expect(new Set(results.map((result) => result.messageId)).size).toBe(3);
    expect((await drain('orders', 'all')).map((message) => message.payload)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('should answer a duplicate inside the batch with the first id of its key', async () => {
    const { publishBatch: results } = ok(
      await publishBatch([
        { topic: 'orders', routingKey: 'order.eu.a', payload: 1, idempotencyKey: 'same' },
        { topic: 'orders', routingKey: 'order.eu.a', payload: 2, idempotencyKey: 'same' },
      ]),
    );
    expect(results[1]).toEqual({ messageId: results[0]?.messageId, duplicate: true, routedTo: [] });
    expect((await drain('orders', 'eu')).map((message) => message.payload)).toEqual([1]);
  });

  it('should refuse the whole batch when one input is refused, naming its index, storing nothing', async () => {
    const before = await snapshot();
    const tooLarge = refused(
      await publishBatch([
        { topic: 'orders', routingKey: 'order.eu.a', payload: { ok: true } },
        { topic: 'typed', payload: { id: 1, pad: 'x'.repeat(100) } },
      ]),
      'PAYLOAD_TOO_LARGE',
      /^inputs\[1\]: payload is \d+ bytes/,
    );
    expect(tooLarge.extensions?.index).toBe(1);
    refused(
      await publishBatch([
        { topic: 'typed', payload: { id: 1 } },
        { topic: 'typed', payload: { id: 2 } },
        { topic: 'typed', payload: { id: 'x' } },
      ]),
      'VALIDATION',
      'inputs[2]: payload/id must be integer',
    );
    refused(
      await publishBatch([
        { topic: 'orders', payload: {} },
        { topic: 'nope', payload: {} },
      ]),
      'NOT_FOUND',
      'inputs[1]: Topic nope does not exist',
    );
    expect(await snapshot()).toEqual(before);
  });
});
