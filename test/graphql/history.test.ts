import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TargetKind, TopicKind } from '../../client/generated/schema.js';
import {
  TestCancelReplayTaskDocument,
  TestCreateHistoryTopicDocument,
  TestCreateQueueDocument,
  TestHistoryMessageDocument,
  TestHistoryOfTopicDocument,
  TestHistoryPublishBatchDocument,
  TestReplayTaskDocument,
  TestReplayTasksDocument,
  TestReplayTopicDocument,
  TestTopicHistoryPageDocument,
} from '../generated/graphql.js';
import { startTestRedis, type TestRedis, waitFor } from '../helpers/redis.js';
import { type Harness, ok, present, refused, startHarness } from './yoga-client.js';

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

const EPOCH = '1970-01-01T00:00:00.000Z';

async function logTopic(history: { maxAgeMs?: number | null; maxMessages?: number | null }) {
  const created = ok(
    await h.gqlDoc(TestCreateHistoryTopicDocument, {
      input: { name: 'log', kind: TopicKind.Fanout, history },
    }),
  );
  ok(
    await h.gqlDoc(TestCreateQueueDocument, {
      input: { topic: 'log', name: 'q', target: TargetKind.Consumer },
    }),
  );
  return created.createTopic;
}

const publish = async (payloads: number[]) =>
  ok(
    await h.gqlDoc(TestHistoryPublishBatchDocument, {
      inputs: payloads.map((payload) => ({ topic: 'log', payload })),
    }),
  ).publishBatch;

describe('topic history over GraphQL', () => {
  it('should create a topic with history, page it by cursor, and show its length', async () => {
    expect(await logTopic({ maxMessages: 50 })).toEqual({
      name: 'log',
      history: { maxAgeMs: null, maxMessages: 50, length: 0, oldestAt: null },
    });
    const published = await publish([1, 2, 3, 4, 5]);
    const first = ok(await h.gqlDoc(TestTopicHistoryPageDocument, { topic: 'log', first: 3 })).topicHistory;
    expect(first.edges.map((edge) => edge.node.payload)).toEqual([1, 2, 3]);
    expect(first.edges.every((edge) => edge.node.cursor === edge.cursor)).toBe(true);
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, endCursor: first.edges[2]?.cursor });
    const rest = ok(
      await h.gqlDoc(TestTopicHistoryPageDocument, { topic: 'log', after: first.pageInfo.endCursor }),
    ).topicHistory;
    expect(rest.edges.map((edge) => edge.node.payload)).toEqual([4, 5]);
    expect(rest.pageInfo.hasNextPage).toBe(false);

    const history = present(
      ok(await h.gqlDoc(TestHistoryOfTopicDocument, { name: 'log' })).topic,
      'topic',
    ).history;
    expect(history).toMatchObject({ maxMessages: 50, length: 5 });
    expect(history?.oldestAt).toMatch(/^\d{4}-/);

    const id = published[1]?.messageId as string;
    expect(ok(await h.gqlDoc(TestHistoryMessageDocument, { topic: 'log', id })).message).toEqual({
      id,
      payload: 2,
      cursor: first.edges[1]?.cursor,
    });
    expect(ok(await h.gqlDoc(TestHistoryMessageDocument, { topic: 'log', id: 'gone' })).message).toBeNull();
  });

  it('should refuse bad history settings and reads with BAD_USER_INPUT', async () => {
    refused(
      await h.gqlDoc(TestCreateHistoryTopicDocument, {
        input: { name: 'log', kind: TopicKind.Fanout, history: {} },
      }),
      'BAD_USER_INPUT',
      /maxAgeMs, maxMessages or both/,
    );
    refused(
      await h.gqlDoc(TestCreateHistoryTopicDocument, {
        input: { name: 'log', kind: TopicKind.Fanout, history: { maxMessages: 0 } },
      }),
      'BAD_USER_INPUT',
    );
    await logTopic({ maxAgeMs: 60_000 });
    refused(await h.gqlDoc(TestTopicHistoryPageDocument, { topic: 'log', after: 'x' }), 'BAD_USER_INPUT');
    refused(await h.gqlDoc(TestTopicHistoryPageDocument, { topic: 'log', first: 0 }), 'BAD_USER_INPUT');
    refused(
      await h.gqlDoc(TestTopicHistoryPageDocument, { topic: 'log', after: '1-0', from: EPOCH }),
      'BAD_USER_INPUT',
    );
    refused(await h.gqlDoc(TestTopicHistoryPageDocument, { topic: 'nope' }), 'NOT_FOUND');
  });

  it('should run a replay task, list it, refuse a second on the queue, and cancel', async () => {
    await logTopic({ maxMessages: 100 });
    await publish(Array.from({ length: 20 }, (_, n) => n));
    const dry = ok(
      await h.gqlDoc(TestReplayTopicDocument, { topic: 'log', queue: 'q', from: EPOCH, dryRun: true }),
    ).replayTopic;
    expect(dry).toMatchObject({ state: 'DONE', total: 20, done: 0, dryRun: true, to: null, topic: 'log' });

    const slow = ok(
      await h.gqlDoc(TestReplayTopicDocument, { topic: 'log', queue: 'q', from: EPOCH, ratePerSecond: 5 }),
    ).replayTopic;
    expect(slow).toMatchObject({ state: 'RUNNING', total: 20, ratePerSecond: 5, finishedAt: null });
    refused(await h.gqlDoc(TestReplayTopicDocument, { topic: 'log', queue: 'q', from: EPOCH }), 'CONFLICT');
    const cancelled = ok(await h.gqlDoc(TestCancelReplayTaskDocument, { id: slow.id })).cancelReplayTask;
    expect(cancelled.state).toBe('CANCELLED');
    expect(cancelled.finishedAt).toMatch(/^\d{4}-/);

    const full = ok(
      await h.gqlDoc(TestReplayTopicDocument, { topic: 'log', queue: 'q', from: EPOCH }),
    ).replayTopic;
    const done = await waitFor(async () => {
      const task = ok(await h.gqlDoc(TestReplayTaskDocument, { id: full.id })).replayTask;
      return task?.state === 'DONE' ? task : null;
    });
    expect(done).toMatchObject({ total: 20, done: 20 });
    const tasks = ok(await h.gqlDoc(TestReplayTasksDocument)).replayTasks;
    expect(tasks.map((task) => task.id).sort()).toEqual([dry.id, slow.id, full.id].sort());
    expect(ok(await h.gqlDoc(TestReplayTaskDocument, { id: 'nope' })).replayTask).toBeNull();
    refused(await h.gqlDoc(TestCancelReplayTaskDocument, { id: 'nope' }), 'NOT_FOUND');
  });
});
