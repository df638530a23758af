import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FailureReason } from '../../client/generated/schema.js';
import {
  TestAckDocument,
  TestNackDocument,
  TestPauseQueueDocument,
  TestPublishPayloadDocument,
  TestQueueStatsDocument,
  TestReceiveDocument,
  TestResumeQueueDocument,
  TestTopicStatsDocument,
} from '../generated/graphql.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { type Harness, ok, present, refused, startHarness } from './yoga-client.js';

let redis: TestRedis;
let h: Harness;
beforeAll(async () => {
  redis = await startTestRedis();
});
beforeEach(async () => {
  h = await startHarness(redis);
  ok(
    await h.gql(`mutation {
      createTopic(input: { name: "jobs", kind: FANOUT }) { name }
      work: createQueue(input: {
        topic: "jobs", name: "work", target: CONSUMER,
        retry: { maxAttempts: 2, backoff: FIXED, delayMs: 0, maxDelayMs: 0, jitter: false }
      }) { name }
      hook: createQueue(input: { topic: "jobs", name: "hook", target: WEBHOOK, url: "http://127.0.0.1:9/never" }) {
        name
      }
    }`),
  );
});
afterEach(async () => {
  await h?.close();
});
afterAll(async () => {
  await redis?.stop();
});

const publish = async (payload: unknown) =>
  ok(await h.gqlDoc(TestPublishPayloadDocument, { topic: 'jobs', payload })).publish.messageId;
const receive = (variables: { queue?: string; max?: number; waitMs?: number } = {}) =>
  h.gqlDoc(TestReceiveDocument, { topic: 'jobs', queue: 'work', ...variables });
const ack = (deliveryId: string) => h.gqlDoc(TestAckDocument, { id: deliveryId });
const nack = (deliveryId: string, reason?: FailureReason) =>
  h.gqlDoc(TestNackDocument, { id: deliveryId, reason });
const stats = async () =>
  present(
    ok(await h.gqlDoc(TestQueueStatsDocument, { topic: 'jobs', name: 'work' })).queue,
    'queue jobs/work',
  ).stats;
const topicStats = async () =>
  present(ok(await h.gqlDoc(TestTopicStatsDocument, { name: 'jobs' })).topic, 'topic jobs').stats;

describe('receive and ack', () => {
  it('should hand out a published message once and forget it when acked', async () => {
    const messageId = await publish({ task: 'resize' });
    const before = Date.now();
    const { receive: deliveries } = ok(await receive({ max: 10 }));
    expect(deliveries).toEqual([
      {
        id: expect.any(String),
        queue: 'work',
        attempt: 1,
        deliverBy: expect.any(String),
        message: { id: messageId, payload: { task: 'resize' } },
      },
    ]);
    // The default visibility timeout is 30 s.
    expect(Date.parse(deliveries[0]?.deliverBy ?? '')).toBeGreaterThanOrEqual(before + 29_000);
    expect(await stats()).toMatchObject({ waiting: 0, active: 1 });
    expect(ok(await receive()).receive).toEqual([]);

    expect(ok(await ack(deliveries[0]?.id ?? ''))).toEqual({ ack: true });
    expect(await stats()).toMatchObject({ waiting: 0, active: 0, completed: 1, deadLettered: 0 });
  });

  it('should take at most `max` messages, oldest first', async () => {
    for (const n of [1, 2, 3]) await publish({ n });
    const { receive: deliveries } = ok(await receive({ max: 2 }));
    expect(deliveries.map((delivery) => delivery.message.payload)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await stats()).toMatchObject({ waiting: 1, active: 2 });
  });

  it('should wait up to waitMs for a message and answer an empty list when none comes', async () => {
    const started = Date.now();
    expect(ok(await receive({ waitMs: 150 })).receive).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('should refuse a second ack of the same delivery with NOT_FOUND', async () => {
    await publish({});
    const [delivery] = ok(await receive()).receive;
    ok(await ack(delivery?.id ?? ''));
    refused(await ack(delivery?.id ?? ''), 'NOT_FOUND', /already acknowledged/);
  });

  it('should refuse an ack token that is not one with BAD_USER_INPUT', async () => {
    const error = refused(await ack('not-a-delivery'), 'BAD_USER_INPUT', /not a delivery id/);
    expect(error.extensions?.field).toBe('deliveryId');
  });

  it.each([
    ['a webhook queue', { queue: 'hook' }, 'BAD_USER_INPUT', /delivers by webhook/],
    [
      'a queue that does not exist',
      { queue: 'nope' },
      'NOT_FOUND',
      'Queue nope of topic jobs does not exist',
    ],
    ['max 0', { max: 0 }, 'BAD_USER_INPUT', 'max must be an integer from 1 to 1000, got 0'],
    ['a negative waitMs', { waitMs: -1 }, 'BAD_USER_INPUT', /^waitMs must be an integer/],
  ])('should refuse receiving from %s, leaving the queue as it was', async (_, variables, code, message) => {
    await publish({});
    const before = await stats();
    refused(await receive(variables), code, message);
    expect(await stats()).toEqual(before);
  });
});

describe('nack', () => {
  it('should deliver a nacked message again with the next attempt number', async () => {
    const messageId = await publish({ task: 'x' });
    const [first] = ok(await receive()).receive;
    expect(ok(await nack(first?.id ?? ''))).toEqual({ nack: true });
    const [second] = ok(await receive({ waitMs: 2000 })).receive;
    expect(second).toMatchObject({ attempt: 2, message: { id: messageId } });
    expect(second?.id).not.toBe(first?.id);
    // The first token is spent.
    refused(await ack(first?.id ?? ''), 'NOT_FOUND');
    ok(await ack(second?.id ?? ''));
  });

  it('should dead-letter a message nacked as REJECTED without retrying it', async () => {
    await publish({ task: 'x' });
    const [delivery] = ok(await receive()).receive;
    ok(await nack(delivery?.id ?? '', 'REJECTED'));
    expect(ok(await receive({ waitMs: 100 })).receive).toEqual([]);
    expect(await stats()).toMatchObject({ waiting: 0, active: 0, failed: 1, deadLettered: 1 });
    expect(await topicStats()).toEqual({ published: 1, unrouted: 0, deadLettered: 1 });
  });

  it('should dead-letter a message once its attempts are spent', async () => {
    await publish({ task: 'x' });
    for (const attempt of [1, 2]) {
      const [delivery] = ok(await receive({ waitMs: 2000 })).receive;
      expect(delivery?.attempt).toBe(attempt);
      ok(await nack(delivery?.id ?? ''));
    }
    expect(await stats()).toMatchObject({ waiting: 0, delayed: 0, deadLettered: 1 });
  });

  it('should refuse a nack with an unknown reason or a negative retryAfterMs, changing nothing', async () => {
    await publish({});
    const [delivery] = ok(await receive()).receive;
    const before = await stats();
    refused(
      await h.gql(TestNackDocument.toString(), { id: delivery?.id ?? '', reason: 'BORED' }),
      'BAD_USER_INPUT',
      /FailureReason/,
    );
    refused(
      await h.gql('mutation ($id: ID!) { nack(deliveryId: $id, retryAfterMs: -5) }', { id: delivery?.id }),
      'BAD_USER_INPUT',
      /^retryAfterMs must be an integer/,
    );
    expect(await stats()).toEqual(before);
    ok(await ack(delivery?.id ?? ''));
  });
});

describe('pause and resume', () => {
  it('should hold messages while paused and hand them out once resumed', async () => {
    const { pauseQueue } = ok(await h.gqlDoc(TestPauseQueueDocument, { topic: 'jobs', name: 'work' }));
    expect(pauseQueue).toEqual({ paused: true, stats: { paused: true } });
    const messageId = await publish({ held: true });
    expect(ok(await receive()).receive).toEqual([]);
    expect(await stats()).toMatchObject({ waiting: 1, active: 0, paused: true });

    const { resumeQueue } = ok(await h.gqlDoc(TestResumeQueueDocument, { topic: 'jobs', name: 'work' }));
    expect(resumeQueue).toEqual({ paused: false });
    const [delivery] = ok(await receive()).receive;
    expect(delivery?.message.id).toBe(messageId);
    ok(await ack(delivery?.id ?? ''));
  });
});
