import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FailureReason } from '../../client/generated/schema.js';
import {
  TestDeadLetterDocument,
  TestDeadLetteredCountsDocument,
  TestDeadLetterNackDocument,
  TestDeadLetterPageDocument,
  type TestDeadLetterPageQuery,
  type TestDeadLetterPageQueryVariables,
  TestDeadLetterPublishDocument,
  TestDeadLetterReceiveDocument,
  TestDeadLetterReceivePayloadsDocument,
  TestReplayDeadLetterDocument,
  TestReplayRejectedDocument,
} from '../generated/graphql.js';
import { type Harness, ok, refused, startHarness } from '../graphql/yoga-client.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

/** The same request as TestDeadLetterPage, for a filter its variables' types forbid. */
const PAGE = TestDeadLetterPageDocument.toString();

let redis: TestRedis;
let h: Harness;
beforeAll(async () => {
  redis = await startTestRedis();
});
beforeEach(async () => {
  h = await startHarness(redis);
  ok(
    await h.gql(`mutation {
      createTopic(input: {
        name: "orders", kind: DIRECT,
        payloadSchema: { type: "object", required: ["total"], properties: { total: { type: "number", minimum: 0 } } }
      }) { name }
      a: createQueue(input: { topic: "orders", name: "a", bindingKey: "a", target: CONSUMER, retry: { maxAttempts: 1 } }) { name }
      b: createQueue(input: { topic: "orders", name: "b", bindingKey: "b", target: CONSUMER, retry: { maxAttempts: 1 } }) { name }
    }`),
  );
});
afterEach(async () => {
  await h?.close();
});
afterAll(async () => {
  await redis?.stop();
});

/** Publishes to queue `queue` and nacks the delivery: one dead letter. Answers its message id. */
async function deadLetter(queue: string, reason: FailureReason, error: string, total = 1): Promise<string> {
  const { publish } = ok(await h.gqlDoc(TestDeadLetterPublishDocument, { key: queue, total }));
  const { receive } = ok(await h.gqlDoc(TestDeadLetterReceiveDocument, { queue }));
  const [delivery] = receive;
  if (!delivery) throw new Error(`nothing received from queue ${queue}`);
  ok(await h.gqlDoc(TestDeadLetterNackDocument, { id: delivery.id, reason, error }));
  return publish.messageId;
}

type DeadLetterData = TestDeadLetterPageQuery['deadLetters']['edges'][number]['node'];

const page = async (variables: TestDeadLetterPageQueryVariables = {}) =>
  ok(await h.gqlDoc(TestDeadLetterPageDocument, variables)).deadLetters;

describe('Query.deadLetters and Query.deadLetter', () => {
  it('should answer filtered pages with the whole dead letter, a cursor and totalCount', async () => {
    const first = await deadLetter('a', 'REJECTED', 'declined');
    const second = await deadLetter('a', 'VALIDATION', 'x-api-key: k-1 missing field');
    const third = await deadLetter('b', 'REJECTED', 'declined too');

    const all = await page({ first: 2 });
    expect(all.totalCount).toBe(3);
    expect(all.edges.map((edge) => edge.node.message.id)).toEqual([third, second]);
    expect(all.pageInfo).toEqual({
      hasNextPage: true,
      hasPreviousPage: false,
      startCursor: all.edges[0]?.cursor,
      endCursor: all.edges[1]?.cursor,
    });
    expect(all.edges[1]?.node).toMatchObject({
      id: `orders/a/${second}`,
      topic: 'orders',
      queue: 'a',
      reason: 'VALIDATION',
      error: 'x-api-key: [REDACTED] missing field',
      attempts: 1,
      replayCount: 0,
      message: { id: second, payload: { total: 1 } },
      history: [
        { attempt: 1, reason: 'VALIDATION', error: 'x-api-key: [REDACTED] missing field', durationMs: null },
      ],
    });
    const rest = await page({ first: 2, after: all.pageInfo.endCursor });
    expect(rest.edges.map((edge) => edge.node.message.id)).toEqual([first]);
    expect(rest.pageInfo.hasNextPage).toBe(false);

    const filtered = await page({ filter: { queue: 'a', reason: 'REJECTED', search: 'DECLIN' } });
    expect(filtered.edges.map((edge) => edge.node.message.id)).toEqual([first]);
    expect(filtered.totalCount).toBe(1);
    const timed = await page({
      filter: { from: all.edges[1]?.node.failedAt, to: all.edges[1]?.node.failedAt },
    });
    expect(timed.edges.map((edge) => edge.node.message.id)).toContain(second);

    const one = ok(await h.gqlDoc(TestDeadLetterDocument, { id: `orders/b/${third}` }));
    expect(one.deadLetter).toEqual({ id: `orders/b/${third}`, reason: 'REJECTED' });
    expect(ok(await h.gql('{ deadLetter(id: "orders/b/nope") { id } }'))).toEqual({ deadLetter: null });
  });

  it('should answer PageInfo as Relay does: both cursors, and whether pages come before and after', async () => {
    const ids = [];
    for (const total of [1, 2, 3, 4]) ids.push(await deadLetter('a', 'REJECTED', 'declined', total));
    const newestFirst = ids.reverse();
    const ofPage = (edges: { node: DeadLetterData }[]) => edges.map((edge) => edge.node.message.id);

    const first = await page({ first: 2 });
    expect(ofPage(first.edges)).toEqual(newestFirst.slice(0, 2));
    expect(first.pageInfo).toEqual({
      hasNextPage: true,
      hasPreviousPage: false,
      startCursor: first.edges[0]?.cursor,
      endCursor: first.edges[1]?.cursor,
    });
    const second = await page({ first: 2, after: first.pageInfo.endCursor });
    expect(ofPage(second.edges)).toEqual(newestFirst.slice(2));
    expect(second.pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: true,
      startCursor: second.edges[0]?.cursor,
      endCursor: second.edges[1]?.cursor,
    });
    // From the newest one's cursor: that one comes before the page.
    const afterNewest = await page({ first: 1, after: first.pageInfo.startCursor });
    expect(ofPage(afterNewest.edges)).toEqual([newestFirst[1]]);
    expect(afterNewest.pageInfo.hasPreviousPage).toBe(true);

    // Once what came before the cursor is gone, nothing comes before the page any more.
    for (const id of newestFirst.slice(0, 2)) {
      expect(
        ok(await h.gql('mutation ($id: ID!) { discardDeadLetter(id: $id) }', { id: `orders/a/${id}` })),
      ).toEqual({
        discardDeadLetter: true,
      });
    }
    const after = await page({ filter: { queue: 'a' }, first: 2, after: first.pageInfo.endCursor });
    expect(ofPage(after.edges)).toEqual(newestFirst.slice(2));
    expect(after.pageInfo.hasPreviousPage).toBe(false);
    // Only what the filter selects counts: a newer dead letter of queue b comes before the page unfiltered.
    await deadLetter('b', 'REJECTED', 'declined');
    const unfiltered = await page({ first: 2, after: first.pageInfo.endCursor });
    expect(ofPage(unfiltered.edges)).toEqual(newestFirst.slice(2));
    expect(unfiltered.pageInfo.hasPreviousPage).toBe(true);
    expect(
      (await page({ filter: { queue: 'a' }, first: 2, after: first.pageInfo.endCursor })).pageInfo,
    ).toEqual(after.pageInfo);
    const empty = await page({ filter: { queue: 'b' }, first: 0 });
    expect(empty.pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: false,
      startCursor: null,
      endCursor: null,
    });
  });

  it('should keep Queue.stats.deadLettered and Topic.stats.deadLettered equal to totalCount', async () => {
    await deadLetter('a', 'REJECTED', 'x');
    await deadLetter('a', 'REJECTED', 'y');
    await deadLetter('b', 'PROCESSING', 'z');
    const { topic: stats } = ok(await h.gqlDoc(TestDeadLetteredCountsDocument));
    if (!stats) throw new Error('no topic orders');
    expect(stats.stats.deadLettered).toBe((await page({ filter: { topic: 'orders' } })).totalCount);
    for (const queue of stats.queues) {
      expect(queue.stats.deadLettered).toBe((await page({ filter: { queue: queue.name } })).totalCount);
    }
    expect(stats.queues.map((queue) => queue.stats.deadLettered).sort()).toEqual([1, 2]);
  });

  it('should refuse a bad cursor, filter or page size with BAD_USER_INPUT and an unknown topic with NOT_FOUND', async () => {
    refused(await h.gql(PAGE, { after: 'nonsense' }), 'BAD_USER_INPUT', /after must be a cursor/);
    refused(await h.gql(PAGE, { first: 5000 }), 'BAD_USER_INPUT', /first/);
    refused(
      await h.gql(PAGE, { filter: { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' } }),
      'BAD_USER_INPUT',
      /filter.from/,
    );
    refused(await h.gql(PAGE, { filter: { from: 'yesterday' } }), 'BAD_USER_INPUT', /DateTime/);
    refused(await h.gql(PAGE, { filter: { reason: 'SOMETHING' } }), 'BAD_USER_INPUT');
    refused(await h.gql(PAGE, { filter: { topic: 'has space' } }), 'BAD_USER_INPUT', /filter.topic/);
    refused(await h.gql(PAGE, { filter: { topic: 'nope' } }), 'NOT_FOUND', /Topic nope/);
    refused(await h.gql('{ deadLetter(id: "nothing") { id } }'), 'BAD_USER_INPUT', /dead letter id/);
  });
});

describe('replay and discard mutations', () => {
  it('should replay one, then answer NOT_FOUND for it, changing nothing', async () => {
    const id = `orders/a/${await deadLetter('a', 'REJECTED', 'no')}`;
    expect(ok(await h.gqlDoc(TestReplayDeadLetterDocument, { id }))).toEqual({
      replayDeadLetter: { replayed: 1, failed: 0, ids: [id] },
    });

    const before = await page();
    refused(
      await h.gqlDoc(TestReplayDeadLetterDocument, { id }),
      'NOT_FOUND',
      /already replayed or discarded/,
    );
    refused(await h.gql('mutation ($id: ID!) { discardDeadLetter(id: $id) }', { id }), 'NOT_FOUND');
    expect(await page()).toEqual(before);
    expect(before.totalCount).toBe(0);
  });

  it('should refuse an edited payload that fails the topic schema with VALIDATION, changing nothing', async () => {
    const id = `orders/a/${await deadLetter('a', 'REJECTED', 'no')}`;
    const before = await page();

    const error = refused(
      await h.gqlDoc(TestReplayDeadLetterDocument, { id, payload: { total: -5 } }),
      'VALIDATION',
      /payload\/total/,
    );
    expect(error.path).toEqual(['replayDeadLetter']);
    refused(await h.gqlDoc(TestReplayDeadLetterDocument, { id, toQueue: 'nope' }), 'NOT_FOUND', /Queue nope/);
    expect(await page()).toEqual(before);

    expect(
      ok(await h.gqlDoc(TestReplayDeadLetterDocument, { id, payload: { total: 3 }, toQueue: 'b' })),
    ).toMatchObject({
      replayDeadLetter: { replayed: 1 },
    });
    const { receive } = ok(await h.gqlDoc(TestDeadLetterReceivePayloadsDocument));
    expect(receive[0]?.message).toEqual({ id: id.split('/')[2], payload: { total: 3 } });
  });

  it('should replay and discard many by filter', async () => {
    await deadLetter('a', 'REJECTED', 'r1');
    await deadLetter('a', 'REJECTED', 'r2');
    await deadLetter('a', 'VALIDATION', 'v1');
    await deadLetter('b', 'REJECTED', 'r3');

    const replayed = ok(await h.gqlDoc(TestReplayRejectedDocument)).replayDeadLetters;
    expect(replayed).toMatchObject({ replayed: 2, failed: 0 });
    expect(replayed.ids.map((id) => id.split('/')[1])).toEqual(['b', 'a']);
    refused(
      await h.gql('mutation { replayDeadLetters(filter: {}, limit: 0) { replayed } }'),
      'BAD_USER_INPUT',
      /limit/,
    );

    expect(
      ok(await h.gql('mutation { discardDeadLetters(filter: { queue: "a", reason: VALIDATION }) }')),
    ).toEqual({
      discardDeadLetters: 1,
    });
    const left = await page();
    expect(left.totalCount).toBe(1);
    const last = left.edges[0]?.node.id;
    expect(ok(await h.gql('mutation ($id: ID!) { discardDeadLetter(id: $id) }', { id: last }))).toEqual({
      discardDeadLetter: true,
    });
    expect((await page()).totalCount).toBe(0);
  });
});
