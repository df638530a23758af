import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import type { Engine } from '../../queues/engine/engine.js';
import { consumerTopic, deadLetter, listAll } from '../dead-letters/helpers.js';
import { expectRefusal, replayFinished, useEngineHarness } from './harness.js';
import { useTwoInstances } from './two-instances.js';

/**
 * Replays on B into a queue that A deletes between the replay's read of the queue and its write, B
 * hearing none of A's announcements: the replay must refuse, write nothing, and leave none of the
 * deleted queue's keys (docs/SCALING.md, "Routing is the same on every instance").
 */
const harness = useEngineHarness();

const { twoInstances } = useTwoInstances(harness);

type Lookup = 'getQueue' | 'requireQueue' | 'requireTopic';

/**
 * After the `nth` lookup of `name` (a queue, or for requireTopic the topic) through B's registry has
 * read Redis, A deletes `queue` before B gets the answer: the interleaving of a replay on B with a
 * deleteQueue on A that lands between the replay's read and its write. Answers how many deletions ran.
 */
function deleteAfterLookup(
  instances: { a: Engine; b: Engine },
  lookup: Lookup,
  target: { topic: string; queue: string; name: string; nth: number },
): () => number {
  const { registry } = instances.b;
  let reads = 0;
  let deletions = 0;
  const after = async (name: string) => {
    if (name !== target.name || ++reads !== target.nth) return;
    await instances.a.deleteQueue(target.topic, target.queue);
    deletions++;
  };
  if (lookup === 'requireTopic') {
    const original = registry.requireTopic;
    registry.requireTopic = async (topic) => {
      const answer = await original(topic);
      await after(topic);
      return answer;
    };
  } else if (lookup === 'requireQueue') {
    const original = registry.requireQueue;
    registry.requireQueue = async (topic, name) => {
      const answer = await original(topic, name);
      await after(name);
      return answer;
    };
  } else {
    const original = registry.getQueue;
    registry.getQueue = async (topic, name) => {
      const answer = await original(topic, name);
      await after(name);
      return answer;
    };
  }
  return () => deletions;
}

/** Every key of a queue's BullMQ keys that Redis holds. */
const queueKeys = (engine: Engine, topic: string, queue: string) =>
  harness.redis.client().keys(`${engine.keys.bullPrefix(topic)}:${queue}:*`);

describe('replayDeadLetter into a queue deleted on another instance', () => {
  for (const [lookup, nth, when] of [
    ['requireQueue', 1, 'before the replay reads it under WATCH'],
    ['getQueue', 1, 'after the replay read it under WATCH'],
  ] as const) {
    it(`should answer NOT_FOUND and write nothing when it is deleted ${when}`, async () => {
      const { a, b, proxy, keys } = await twoInstances();
      await consumerTopic(a, 'orders', ['a', 'gone']);
      const [id] = await deadLetter(a, 'orders', 'a', 1);
      const before = await listAll(a, { topic: 'orders' });
      const redis = harness.redis.client();
      const trail = await redis.lrange(keys.trail('orders', id as string), 0, -1);
      proxy.hold();
      const deletions = deleteAfterLookup({ a, b }, lookup, {
        topic: 'orders',
        queue: 'gone',
        name: 'gone',
        nth,
      });

      await expectRefusal(
        b.deadLetters.replay(`orders/a/${id}`, { toQueue: 'gone' }),
        ErrorCode.NotFound,
        /Queue gone of topic orders does not exist/,
      );

      expect(deletions()).toBe(1);
      expect(await queueKeys(a, 'orders', 'gone')).toEqual([]);
      // The dead letter is where it was, its trail untouched.
      expect(await listAll(a, { topic: 'orders' })).toEqual(before);
      expect(await redis.lrange(keys.trail('orders', id as string), 0, -1)).toEqual(trail);
    });
  }
});

describe('replayDeadLetter in place, its queue deleted on another instance', () => {
  it('should answer NOT_FOUND and bring none of the queue keys back', async () => {
    const { a, b, proxy } = await twoInstances();
    await consumerTopic(a, 'orders', ['gone']);
    const [id] = await deadLetter(a, 'orders', 'gone', 1);
    proxy.hold();
    const deletions = deleteAfterLookup({ a, b }, 'requireTopic', {
      topic: 'orders',
      queue: 'gone',
      name: 'orders',
      nth: 1,
    });

    await expectRefusal(b.deadLetters.replay(`orders/gone/${id}`), ErrorCode.NotFound, /does not exist/);

    expect(deletions()).toBe(1);
    expect(await queueKeys(a, 'orders', 'gone')).toEqual([]);
  });
});

describe('replayTopic into a queue deleted on another instance', () => {
  it('should fail the task with nothing of its batch written when the queue goes between its read and its batch', async () => {
    const { a, b, proxy, keys } = await twoInstances();
    await a.createTopic({ name: 'log', kind: 'FANOUT', history: { maxMessages: 100 } });
    for (const name of ['keep', 'gone']) await a.createQueue({ topic: 'log', name, target: 'CONSUMER' });
    // Through B, so B holds handles of both queues, as an instance that publishes to them does.
    const published = await b.publishBatch(
      Array.from({ length: 5 }, (_, payload) => ({ topic: 'log', payload })),
    );
    expect(published.every((result) => result.routedTo.join() === 'gone,keep')).toBe(true);
    const gone = await queueKeys(a, 'log', 'gone');
    proxy.hold();
    // The first read is replayTopic's check, the second the task's read before its first batch.
    const deletions = deleteAfterLookup({ a, b }, 'getQueue', {
      topic: 'log',
      queue: 'gone',
      name: 'gone',
      nth: 2,
    });

    const task = await b.replayTopic({ topic: 'log', queue: 'gone', from: new Date(0) });
    const done = await replayFinished(b, task.id);
    await b.replayTasksIdle();

    expect(gone.length).toBeGreaterThan(0);
    expect(deletions()).toBe(1);
    expect(done).toMatchObject({ state: 'FAILED', done: 0, total: 5 });
    expect(done?.error).toMatch(/Queue gone of topic log was deleted/);
    expect(await queueKeys(a, 'log', 'gone')).toEqual([]);
    const redis = harness.redis.client();
    for (const { messageId } of published) expect(await redis.exists(keys.trail('log', messageId))).toBe(0);
    expect(await a.queueStats({ topic: 'log', name: 'keep' })).toMatchObject({ waiting: 5 });
  });
});

describe('replayTopic while its topic keeps changing', () => {
  it('should fail the task after 3 batches in a row refused, with nothing written', async () => {
    const { a, keys } = await twoInstances();
    await a.createTopic({ name: 'log', kind: 'FANOUT', history: { maxMessages: 100 } });
    await a.createQueue({ topic: 'log', name: 'q', target: 'CONSUMER' });
    await a.publishBatch(Array.from({ length: 3 }, (_, payload) => ({ topic: 'log', payload })));
    const waiting = (await a.queueStats({ topic: 'log', name: 'q' })).waiting;
    // A change to the topic lands right after every read of the queue, before the batch is sent.
    const redis = harness.redis.client();
    const original = a.registry.getQueue;
    a.registry.getQueue = async (topic, name) => {
      const answer = await original(topic, name);
      await redis.incr(keys.topicRouting(topic));
      return answer;
    };

    const task = await a.replayTopic({ topic: 'log', queue: 'q', from: new Date(0) });
    const done = await replayFinished(a, task.id);
    await a.replayTasksIdle();

    expect(done).toMatchObject({ state: 'FAILED', done: 0, total: 3 });
    expect(done?.error).toMatch(/The routing of log kept changing \(3 tries\)/);
    expect((await a.queueStats({ topic: 'log', name: 'q' })).waiting).toBe(waiting);
  });
});
