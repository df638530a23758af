import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Backoff, TargetKind, TopicKind } from '../../client/generated/schema.js';
import {
  type CreateQueueInput,
  type CreateTopicInput,
  TestCreateQueueDocument,
  TestCreateTopicDocument,
  TestDeleteTopicDocument,
  TestQueueDocument,
  TestTopicDocument,
  TestTopicsDocument,
  TestUpdateQueueDocument,
} from '../generated/graphql.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { type Harness, ok, refused, startHarness } from './yoga-client.js';

/** The same request as TestCreateTopic, for input its variables' types forbid. */
const CREATE_TOPIC = TestCreateTopicDocument.toString();

let redis: TestRedis;
let h: Harness;
beforeAll(async () => {
  redis = await startTestRedis();
});
beforeEach(async () => {
  h = await startHarness(redis);
});
afterEach(async () => {
  await h?.close();
});
afterAll(async () => {
  await redis?.stop();
});

const createTopic = (input: CreateTopicInput) => h.gqlDoc(TestCreateTopicDocument, { input });
const createQueue = (input: CreateQueueInput) => h.gqlDoc(TestCreateQueueDocument, { input });
const topics = async () => ok(await h.gqlDoc(TestTopicsDocument)).topics;
const queue = async (topic: string, name: string) =>
  ok(await h.gqlDoc(TestQueueDocument, { topic, name })).queue;

describe('topics', () => {
  it('should create a topic with the contract defaults and list it', async () => {
    const created = ok(
      await createTopic({ name: 'orders', kind: TopicKind.Topic, description: 'Order events' }),
    );
    expect(created.createTopic).toEqual({
      name: 'orders',
      kind: TopicKind.Topic,
      description: 'Order events',
      maxMessageBytes: 1024 * 1024,
      payloadSchema: null,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      queues: [],
    });
    expect(await topics()).toEqual([created.createTopic]);
    const { topic } = ok(await h.gqlDoc(TestTopicDocument, { name: 'orders' }));
    expect(topic).toEqual(created.createTopic);
  });

  it('should answer null for a topic that does not exist', async () => {
    expect(ok(await h.gqlDoc(TestTopicDocument, { name: 'nope' })).topic).toBeNull();
  });

  it('should keep a payload schema as JSON', async () => {
    const payloadSchema = { type: 'object', required: ['id'], properties: { id: { type: 'integer' } } };
    const { createTopic: topic } = ok(
      await createTopic({ name: 'typed', kind: TopicKind.Fanout, payloadSchema }),
    );
    expect(topic.payloadSchema).toEqual(payloadSchema);
  });

  it('should refuse a second topic of the same name with CONFLICT and keep the first as it was', async () => {
    ok(await createTopic({ name: 'orders', kind: TopicKind.Fanout, description: 'first' }));
    const before = await topics();
    refused(
      await createTopic({ name: 'orders', kind: TopicKind.Direct, description: 'second' }),
      'CONFLICT',
      'Topic orders already exists',
    );
    expect(await topics()).toEqual(before);
  });

  it.each([
    ['a space', { name: 'a b', kind: TopicKind.Fanout }, 'name'],
    ['a colon', { name: 'a:b', kind: TopicKind.Fanout }, 'name'],
    ['an empty name', { name: '', kind: TopicKind.Fanout }, 'name'],
    ['a name of 129 characters', { name: 'x'.repeat(129), kind: TopicKind.Fanout }, 'name'],
    ['a zero size limit', { name: 'ok', kind: TopicKind.Fanout, maxMessageBytes: 0 }, 'maxMessageBytes'],
    [
      'a payload schema that is not an object',
      { name: 'ok', kind: TopicKind.Fanout, payloadSchema: 3 },
      'payloadSchema',
    ],
    [
      'a broken payload schema',
      { name: 'ok', kind: TopicKind.Fanout, payloadSchema: { type: 'nope' } },
      'payloadSchema',
    ],
  ])('should refuse %s with BAD_USER_INPUT naming the field, creating nothing', async (_, input, field) => {
    const error = refused(await createTopic(input), 'BAD_USER_INPUT');
    expect(error.extensions?.field).toBe(field);
    expect(error.message).toContain(field);
    expect(await topics()).toEqual([]);
  });

  it('should refuse an unknown kind with BAD_USER_INPUT before any resolver runs', async () => {
    const error = refused(
      await h.gql(CREATE_TOPIC, { input: { name: 'orders', kind: 'QUEUE' } }),
      'BAD_USER_INPUT',
    );
    expect(error.message).toContain('"QUEUE" does not exist in "TopicKind" enum');
    expect(await topics()).toEqual([]);
  });

  it('should delete a topic without queues and refuse a second delete with NOT_FOUND', async () => {
    ok(await createTopic({ name: 'orders', kind: TopicKind.Fanout }));
    expect(ok(await h.gqlDoc(TestDeleteTopicDocument, { name: 'orders' }))).toEqual({ deleteTopic: true });
    expect(await topics()).toEqual([]);
    refused(
      await h.gql('mutation { deleteTopic(name: "orders") }'),
      'NOT_FOUND',
      'Topic orders does not exist',
    );
  });

  it('should refuse to delete a topic that still has queues with CONFLICT, changing nothing', async () => {
    ok(await createTopic({ name: 'orders', kind: TopicKind.Fanout }));
    ok(await createQueue({ topic: 'orders', name: 'audit', target: 'CONSUMER' }));
    const before = await topics();
    refused(
      await h.gql('mutation { deleteTopic(name: "orders") }'),
      'CONFLICT',
      'Topic orders still has queues; delete them first',
    );
    expect(await topics()).toEqual(before);
    expect(before[0]?.queues).toEqual([{ name: 'audit' }]);
  });
});

describe('queues', () => {
  beforeEach(async () => {
    ok(await createTopic({ name: 'orders', kind: TopicKind.Topic }));
  });

  it('should create a webhook queue with a signing secret and the default policy', async () => {
    const { createQueue: created } = ok(
      await createQueue({
        topic: 'orders',
        name: 'billing',
        bindingKey: 'order.*.created',
        target: 'WEBHOOK',
        url: 'https://example.com/hooks/orders',
      }),
    );
    expect(created).toEqual({
      name: 'billing',
      topic: 'orders',
      bindingKey: 'order.*.created',
      headers: null,
      headerMatch: null,
      target: 'WEBHOOK',
      url: 'https://example.com/hooks/orders',
      signingSecret: expect.stringMatching(/^whsec_[A-Za-z0-9+/=]+$/),
      deliveryMode: 'AT_LEAST_ONCE',
      retry: { maxAttempts: 5, backoff: 'EXPONENTIAL', delayMs: 1000, maxDelayMs: 60000, jitter: true },
      concurrency: 10,
      ackTimeoutMs: 30000,
      maxPriority: 9,
      paused: false,
      stats: { waiting: 0, paused: false },
    });
    expect(await queue('orders', 'billing')).toEqual(created);
    expect((await topics())[0]?.queues).toEqual([{ name: 'billing' }]);
  });

  it('should create a consumer queue without a signing secret', async () => {
    const { createQueue: created } = ok(
      await createQueue({
        topic: 'orders',
        name: 'audit',
        bindingKey: '#',
        target: 'CONSUMER',
        deliveryMode: 'AT_MOST_ONCE',
        ackTimeoutMs: 5000,
      }),
    );
    expect(created).toMatchObject({
      target: 'CONSUMER',
      url: null,
      signingSecret: null,
      deliveryMode: 'AT_MOST_ONCE',
      retry: { maxAttempts: 1 },
      ackTimeoutMs: 5000,
    });
  });

  it('should answer null for a queue that does not exist', async () => {
    expect(await queue('orders', 'nope')).toBeNull();
    expect(await queue('nope', 'nope')).toBeNull();
  });

  it.each([
    [
      'a webhook queue without url',
      { name: 'q', bindingKey: '#', target: TargetKind.Webhook },
      /url is required/,
    ],
    [
      'an ftp url',
      { name: 'q', bindingKey: '#', target: TargetKind.Webhook, url: 'ftp://example.com/x' },
      /http or https/,
    ],
    [
      'a url that is not a URL',
      { name: 'q', bindingKey: '#', target: TargetKind.Webhook, url: 'example' },
      /absolute/,
    ],
    [
      'a url on a consumer queue',
      { name: 'q', bindingKey: '#', target: TargetKind.Consumer, url: 'http://x.test/' },
      /url/,
    ],
    ['a TOPIC queue without binding key', { name: 'q', target: TargetKind.Consumer }, /bindingKey/],
    [
      'header bindings on a TOPIC topic',
      { name: 'q', bindingKey: '#', headers: { a: '1' }, target: TargetKind.Consumer },
      /headers/,
    ],
    ['a bad queue name', { name: 'no/slash', bindingKey: '#', target: TargetKind.Consumer }, /name must be/],
    [
      'zero concurrency',
      { name: 'q', bindingKey: '#', target: TargetKind.Consumer, concurrency: 0 },
      /concurrency/,
    ],
    [
      'a retry cap below the delay',
      { name: 'q', bindingKey: '#', target: TargetKind.Consumer, retry: { delayMs: 5000, maxDelayMs: 10 } },
      /maxDelayMs/,
    ],
    [
      'a maxPriority above 9',
      { name: 'q', bindingKey: '#', target: TargetKind.Consumer, maxPriority: 10 },
      /maxPriority must be an integer from 0 to 9, got 10/,
    ],
  ])('should refuse %s with BAD_USER_INPUT and create nothing', async (_, input, message) => {
    refused(await createQueue({ topic: 'orders', ...input }), 'BAD_USER_INPUT', message);
    expect((await topics())[0]?.queues).toEqual([]);
  });

  it('should refuse a queue on a topic that does not exist with NOT_FOUND', async () => {
    refused(
      await createQueue({ topic: 'nope', name: 'q', target: 'CONSUMER' }),
      'NOT_FOUND',
      'Topic nope does not exist',
    );
    expect((await topics()).map((topic) => topic.name)).toEqual(['orders']);
  });

  it('should refuse a second queue of the same name with CONFLICT and keep the first', async () => {
    const first = ok(
      await createQueue({ topic: 'orders', name: 'q', bindingKey: 'a.#', target: 'CONSUMER' }),
    );
    refused(
      await createQueue({ topic: 'orders', name: 'q', bindingKey: 'b.#', target: 'CONSUMER' }),
      'CONFLICT',
      'Queue q of topic orders already exists',
    );
    expect(await queue('orders', 'q')).toEqual(first.createQueue);
  });

  it('should update only the given settings', async () => {
    ok(await createQueue({ topic: 'orders', name: 'q', bindingKey: 'a.#', target: 'CONSUMER' }));
    const { updateQueue } = ok(
      await h.gqlDoc(TestUpdateQueueDocument, {
        topic: 'orders',
        name: 'q',
        input: { bindingKey: 'b.*', concurrency: 3, retry: { maxAttempts: 2, backoff: Backoff.Fixed } },
      }),
    );
    expect(updateQueue).toMatchObject({
      bindingKey: 'b.*',
      concurrency: 3,
      retry: { maxAttempts: 2, backoff: 'FIXED', delayMs: 1000, maxDelayMs: 60000, jitter: true },
      ackTimeoutMs: 30000,
    });
    expect(await queue('orders', 'q')).toEqual(updateQueue);
  });

  it('should refuse an update that leaves the queue invalid, changing nothing', async () => {
    ok(await createQueue({ topic: 'orders', name: 'q', bindingKey: 'a.#', target: 'CONSUMER' }));
    const before = await queue('orders', 'q');
    refused(
      await h.gql(
        'mutation { updateQueue(topic: "orders", name: "q", input: { concurrency: 5, retry: { maxDelayMs: 1 } }) { name } }',
      ),
      'BAD_USER_INPUT',
      'retry.maxDelayMs must be at least retry.delayMs',
    );
    refused(
      await h.gql(
        'mutation { updateQueue(topic: "orders", name: "q", input: { url: "http://x.test/" }) { name } }',
      ),
      'BAD_USER_INPUT',
      'url is only for WEBHOOK queues',
    );
    expect(await queue('orders', 'q')).toEqual(before);
  });

  it('should take a concurrency range, show it, and refuse a bad one changing nothing', async () => {
    type Range = { concurrency: number; minConcurrency: number | null; maxConcurrency: number | null };
    const create = (range: string) =>
      h.gql<{ createQueue: Range }>(
        `mutation { createQueue(input: { topic: "orders", name: "hook", bindingKey: "#", target: WEBHOOK, url: "http://127.0.0.1:9/", ${range} }) { concurrency minConcurrency maxConcurrency } }`,
      );
    refused(await create('minConcurrency: 4, maxConcurrency: 2'), 'BAD_USER_INPUT', /minConcurrency \(4\)/);
    refused(await create('minConcurrency: 2'), 'BAD_USER_INPUT', /maxConcurrency is missing/);
    refused(await create('minConcurrency: 1, maxConcurrency: 1001'), 'BAD_USER_INPUT', /maxConcurrency/);
    expect((await topics())[0]?.queues).toEqual([]);
    expect(ok(await create('minConcurrency: 2, maxConcurrency: 6')).createQueue).toEqual({
      concurrency: 2,
      minConcurrency: 2,
      maxConcurrency: 6,
    });
    const read =
      '{ queue(topic: "orders", name: "hook") { concurrency minConcurrency maxConcurrency stats { concurrency } } }';
    expect(ok(await h.gql<{ queue: Range }>(read)).queue).toEqual({
      concurrency: 2,
      minConcurrency: 2,
      maxConcurrency: 6,
      // This harness runs no webhook workers (test/engine/autoscaling.test.ts runs them).
      stats: { concurrency: null },
    });
    refused(
      await h.gql(
        'mutation { updateQueue(topic: "orders", name: "hook", input: { concurrency: 7 }) { name } }',
      ),
      'BAD_USER_INPUT',
      /must lie within minConcurrency..maxConcurrency \(2..6\)/,
    );
    ok(
      await h.gql(
        'mutation { updateQueue(topic: "orders", name: "hook", input: { minConcurrency: null, maxConcurrency: null, concurrency: 5 }) { name } }',
      ),
    );
    expect(ok(await h.gql<{ queue: Range }>(read)).queue).toEqual({
      concurrency: 5,
      minConcurrency: null,
      maxConcurrency: null,
      stats: { concurrency: null },
    });
  });

  it('should create a FIFO queue and refuse to change maxPriority in place', async () => {
    const { createQueue: created } = ok(
      await createQueue({ topic: 'orders', name: 'q', bindingKey: '#', target: 'CONSUMER', maxPriority: 0 }),
    );
    expect(created.maxPriority).toBe(0);
    const answer = await h.gql(
      'mutation { updateQueue(topic: "orders", name: "q", input: { maxPriority: 9 }) { name } }',
    );
    expect(answer.errors?.[0]?.message).toMatch(/"maxPriority" is not defined by type "UpdateQueueInput"/);
    expect(await queue('orders', 'q')).toEqual(created);
  });

  it('should refuse updating, pausing, resuming and deleting a missing queue with NOT_FOUND', async () => {
    for (const operation of [
      'mutation { updateQueue(topic: "orders", name: "nope", input: { concurrency: 2 }) { name } }',
      'mutation { pauseQueue(topic: "orders", name: "nope") { name } }',
      'mutation { resumeQueue(topic: "orders", name: "nope") { name } }',
      'mutation { deleteQueue(topic: "orders", name: "nope") }',
    ]) {
      refused(await h.gql(operation), 'NOT_FOUND', /nope/);
    }
  });

  it('should delete a queue, after which its topic can be deleted', async () => {
    ok(await createQueue({ topic: 'orders', name: 'q', bindingKey: '#', target: 'CONSUMER' }));
    expect(ok(await h.gql('mutation { deleteQueue(topic: "orders", name: "q") }'))).toEqual({
      deleteQueue: true,
    });
    expect(await queue('orders', 'q')).toBeNull();
    expect(ok(await h.gql('mutation { deleteTopic(name: "orders") }'))).toEqual({ deleteTopic: true });
    expect(await topics()).toEqual([]);
  });
});
