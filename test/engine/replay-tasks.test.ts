import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import type { MessageRecord } from '../../queues/core/types.js';
import type { Engine } from '../../queues/engine/engine.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import { type ChainEntry, chainInRedis, firstBreak, recordInRedis } from '../helpers/trail-chain.js';
import { expectRefusal, replayFinished, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

/** The whole trail as Redis holds it: PUBLISHED derived from the history's record, then the trail key's entries. */
async function storedTrail(engine: Engine, id: string): Promise<ChainEntry[]> {
  const client = harness.redis.client();
  const record = await recordInRedis(client, id, { history: engine.keys.topicHistory('log') });
  return chainInRedis(client, record, engine.keys.trail('log', id));
}
const EPOCH = new Date(0);

async function logTopic(engine: Engine, messages: number) {
  await engine.createTopic({ name: 'log', kind: 'FANOUT', history: { maxMessages: 10_000 } });
  for (const name of ['a', 'b']) await engine.createQueue({ topic: 'log', name, target: 'CONSUMER' });
  if (messages > 0) {
    await engine.publishBatch(Array.from({ length: messages }, (_, payload) => ({ topic: 'log', payload })));
  }
}

/** The replayed jobs of queue b: job id -> the message it holds. */
async function replayedJobs(engine: Engine): Promise<Map<string, MessageRecord>> {
  const jobs = await harness.bullQueue(engine, 'log', 'b').getJobs(['waiting', 'prioritized'], 0, -1);
  return new Map(
    jobs
      .filter((job) => job.id?.startsWith('replay-'))
      .map((job) => [job.id as string, job.data as MessageRecord] as const),
  );
}

describe('replayTopic', () => {
  it('should replay a span of the history into one queue, each message once, and count it', async () => {
    const engine = await harness.engine();
    await logTopic(engine, 30);
    const history = (await engine.topicHistory('log', {}, 100)).edges;
    const task = await engine.replayTopic({ topic: 'log', queue: 'b', from: EPOCH });
    expect(task).toMatchObject({ state: 'RUNNING', total: 30, dryRun: false, queue: 'b' });
    const done = await replayFinished(engine, task.id);
    expect(done).toMatchObject({ state: 'DONE', total: 30, done: 30 });
    expect(done?.finishedAt).not.toBeNull();

    const jobs = await replayedJobs(engine);
    expect([...jobs.keys()].sort()).toEqual(history.map((edge) => `replay-${task.id}-${edge.cursor}`).sort());
    for (const edge of history) {
      const { cursor: _cursor, ...message } = edge.node;
      expect(jobs.get(`replay-${task.id}-${edge.cursor}`)).toEqual(message);
    }
    // Queue a got nothing more.
    expect((await engine.queueStats({ topic: 'log', name: 'a' })).waiting).toBe(30);
  });

  it('should replay only from..to, both inclusive', async () => {
    const engine = await harness.engine();
    await logTopic(engine, 10);
    const msOf = (cursor: string | undefined) => Number((cursor ?? '').split('-')[0]);
    const firstMs = msOf((await engine.topicHistory('log', {})).pageInfo.endCursor ?? undefined);
    await waitFor(() => Date.now() > firstMs + 2);
    await engine.publishBatch(Array.from({ length: 20 }, (_, n) => ({ topic: 'log', payload: 10 + n })));
    const edges = (await engine.topicHistory('log', {}, 100)).edges;
    const later = await engine.replayTopic({
      topic: 'log',
      queue: 'a',
      from: new Date(msOf(edges[10]?.cursor)),
    });
    expect(later.total).toBe(20);
    const earlier = await engine.replayTopic({
      topic: 'log',
      queue: 'b',
      from: EPOCH,
      to: new Date(firstMs),
    });
    expect(earlier.total).toBe(10);
    await replayFinished(engine, later.id);
    expect(await replayFinished(engine, earlier.id)).toMatchObject({ state: 'DONE', done: 10 });
    expect(
      [...(await replayedJobs(engine)).values()]
        .map((message) => message.payload)
        .sort((x, y) => Number(x) - Number(y)),
    ).toEqual(Array.from({ length: 10 }, (_, n) => n));
  });

  it('should only count on a dry run', async () => {
    const engine = await harness.engine();
    await logTopic(engine, 12);
    const task = await engine.replayTopic({ topic: 'log', queue: 'b', from: EPOCH, dryRun: true });
    expect(task).toMatchObject({ state: 'DONE', total: 12, done: 0, dryRun: true });
    expect(await engine.replayTask(task.id)).toMatchObject({ state: 'DONE', total: 12, done: 0 });
    expect((await engine.queueStats({ topic: 'log', name: 'b' })).waiting).toBe(12);
    expect(await engine.replayTasks()).toHaveLength(1);
  });

  it('should keep the rate, refuse a second task on the queue with CONFLICT, and stop when cancelled', async () => {
    const engine = await harness.engine();
    await logTopic(engine, 40);
    const startedAt = Date.now();
    const task = await engine.replayTopic({ topic: 'log', queue: 'b', from: EPOCH, ratePerSecond: 10 });
    await expectRefusal(engine.replayTopic({ topic: 'log', queue: 'b', from: EPOCH }), ErrorCode.Conflict);
    await waitFor(async () => ((await engine.replayTask(task.id))?.done ?? 0) >= 20, { timeoutMs: 10_000 });
    // 20 at 10 per second: not before about 1 s (the first batch of 10 goes at once).
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(900);
    const cancelled = await engine.cancelReplayTask(task.id);
    expect(cancelled.state).toBe('CANCELLED');
    const stoppedAt = cancelled.done;
    expect(stoppedAt).toBeLessThan(40);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect((await engine.replayTask(task.id))?.done).toBe(stoppedAt);
    expect((await replayedJobs(engine)).size).toBe(stoppedAt);
    // The queue is free again.
    const next = await engine.replayTopic({ topic: 'log', queue: 'b', from: EPOCH, dryRun: false });
    await replayFinished(engine, next.id);
    await expectRefusal(engine.cancelReplayTask('no-such-task'), ErrorCode.NotFound);
  });

  it('should survive a gateway restart and resume where it was, replaying nothing twice', async () => {
    const keyPrefix = uniquePrefix();
    const first = await harness.engine({ keyPrefix });
    await logTopic(first, 60);
    const task = await first.replayTopic({ topic: 'log', queue: 'b', from: EPOCH, ratePerSecond: 20 });
    await waitFor(async () => ((await first.replayTask(task.id))?.done ?? 0) >= 20, { timeoutMs: 10_000 });
    await first.close();
    const stoppedAt = (await first.replayTask(task.id).catch(() => null))?.done;
    expect(stoppedAt ?? 0).toBeLessThan(60);

    const second = await harness.engine({ keyPrefix, replayTasks: { resumeEveryMs: 100 } });
    const done = await replayFinished(second, task.id);
    expect(done).toMatchObject({ state: 'DONE', total: 60, done: 60 });
    const jobs = await replayedJobs(second);
    expect(jobs.size).toBe(60);
    expect(new Set([...jobs.values()].map((message) => message.id)).size).toBe(60);
    expect((await second.queueStats({ topic: 'log', name: 'b' })).waiting).toBe(120);
    // Each message's trail holds the replay once, however often the task changed hands.
    for (const message of jobs.values()) {
      const trail = await storedTrail(second, message.id);
      expect(trail.map((entry) => entry.action)).toEqual(['PUBLISHED', 'REPLAYED_TO_QUEUE']);
      expect(firstBreak(message.id, trail)).toBe(-1);
    }
  });

  it('should refuse a topic without history, a missing queue and bad ranges and rates', async () => {
    const engine = await harness.engine();
    await logTopic(engine, 0);
    await engine.createTopic({ name: 'plain', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'plain', name: 'q', target: 'CONSUMER' });
    await expectRefusal(
      engine.replayTopic({ topic: 'plain', queue: 'q', from: EPOCH }),
      ErrorCode.BadUserInput,
      /no history/,
    );
    await expectRefusal(engine.replayTopic({ topic: 'log', queue: 'nope', from: EPOCH }), ErrorCode.NotFound);
    await expectRefusal(engine.replayTopic({ topic: 'nope', queue: 'b', from: EPOCH }), ErrorCode.NotFound);
    await expectRefusal(
      engine.replayTopic({ topic: 'log', queue: 'b', from: new Date(2_000), to: new Date(1_000) }),
      ErrorCode.BadUserInput,
    );
    await expectRefusal(
      engine.replayTopic({ topic: 'log', queue: 'b', from: EPOCH, ratePerSecond: 0 }),
      ErrorCode.BadUserInput,
      /ratePerSecond/,
    );
    expect(await engine.replayTasks()).toEqual([]);
    expect(await engine.replayTask('nope')).toBeNull();
  });
});

describe('replayTopic: trail, progress and retention', () => {
  it("should append REPLAYED_TO_QUEUE, by whoever created the task, to each replayed message's trail", async () => {
    const engine = await harness.engine();
    await logTopic(engine, 5);
    const history = (await engine.topicHistory('log', {}, 100)).edges;
    const task = await engine.replayTopic({ topic: 'log', queue: 'b', from: EPOCH, by: 'ops-key' });
    await replayFinished(engine, task.id);
    for (const { node } of history) {
      const trail = await storedTrail(engine, node.id);
      expect(trail.map((entry) => [entry.action, entry.by, entry.queue, entry.sha256])).toEqual([
        ['PUBLISHED', null, null, node.sha256],
        ['REPLAYED_TO_QUEUE', 'ops-key', 'b', node.sha256],
      ]);
      expect(firstBreak(node.id, trail)).toBe(-1);
    }
  });

  it('should keep the chain whole when a dead-letter replay of a message races a batch of the task', async () => {
    const engine = await harness.engine();
    await logTopic(engine, 1);
    const [edge] = (await engine.topicHistory('log', {}, 1)).edges;
    const id = edge?.node.id ?? '';
    // A dead-letter replay of the same message in queue a, racing the task's batch.
    const [delivery] = await engine.receive('log', 'a', 1, 2_000);
    await engine.nack(delivery?.id ?? '', 'REJECTED', 'no');
    await waitFor(async () => (await engine.deadLetters.get(`log/a/${id}`)) !== null);
    const [task] = await Promise.all([
      engine.replayTopic({ topic: 'log', queue: 'b', from: EPOCH }),
      engine.deadLetters.replay(`log/a/${id}`),
    ]);
    await replayFinished(engine, task.id);
    const trail = await storedTrail(engine, id);
    expect(trail.map((entry) => entry.action).sort()).toEqual(['PUBLISHED', 'REPLAYED', 'REPLAYED_TO_QUEUE']);
    expect(firstBreak(id, trail)).toBe(-1);
  });

  it('should show its progress as a REPLAYED delivery event per message', async () => {
    const engine = await harness.engine();
    await logTopic(engine, 12);
    const seen: string[] = [];
    const off = engine.events.on((event) => {
      if (event.kind === 'REPLAYED' && event.queue === 'b') seen.push(event.messageId);
    });
    const task = await engine.replayTopic({ topic: 'log', queue: 'b', from: EPOCH, ratePerSecond: 6 });
    await waitFor(async () => ((await engine.replayTask(task.id))?.done ?? 0) > 0);
    const midway = await engine.replayTask(task.id);
    expect(midway?.state).toBe('RUNNING');
    expect(midway?.done).toBeLessThan(12);
    await replayFinished(engine, task.id);
    off();
    const history = (await engine.topicHistory('log', {}, 100)).edges.map((edge) => edge.node.id);
    expect(seen).toEqual(history);
  });

  it('should forget a finished task once its retention has passed, a dry run too', async () => {
    const engine = await harness.engine({ replayTasks: { finishedRetentionMs: 300 } });
    await logTopic(engine, 3);
    const task = await engine.replayTopic({ topic: 'log', queue: 'b', from: EPOCH });
    const dry = await engine.replayTopic({ topic: 'log', queue: 'a', from: EPOCH, dryRun: true });
    await replayFinished(engine, task.id);
    expect((await engine.replayTasks()).map((t) => t.id).sort()).toEqual([task.id, dry.id].sort());
    const client = harness.redis.client();
    expect(await client.pttl(engine.keys.replayTasks.task('log', task.id))).toBeGreaterThan(0);
    await waitFor(
      async () => (await engine.replayTask(task.id)) === null && (await engine.replayTask(dry.id)) === null,
    );
    expect(await engine.replayTasks()).toEqual([]);
    expect(await client.hlen(engine.keys.replayTasks.index)).toBe(0);
  });

  it('should keep a running task however long it runs', async () => {
    const engine = await harness.engine({ replayTasks: { finishedRetentionMs: 50 } });
    await logTopic(engine, 4);
    const task = await engine.replayTopic({ topic: 'log', queue: 'b', from: EPOCH, ratePerSecond: 2 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await engine.replayTask(task.id))?.state).toBe('RUNNING');
    expect(await harness.redis.client().pttl(engine.keys.replayTasks.task('log', task.id))).toBe(-1);
    await engine.cancelReplayTask(task.id);
  });
});
