import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import type { Engine } from '../../queues/engine/engine.js';
import { waitFor } from '../helpers/redis.js';
import { expectRefusal, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

async function withHistory(history: { maxAgeMs?: number; maxMessages?: number }, queues = ['a', 'b']) {
  const engine = await harness.engine();
  await engine.createTopic({ name: 'log', kind: 'FANOUT', history });
  for (const name of queues) await engine.createQueue({ topic: 'log', name, target: 'CONSUMER' });
  return engine;
}

const payloads = async (engine: Engine, start: { after?: string; from?: Date } = {}, first = 100) =>
  (await engine.topicHistory('log', start, first)).edges.map((edge) => edge.node.payload);

describe('createTopic with history', () => {
  it.each([
    [{}, /maxAgeMs, maxMessages or both/],
    [{ maxMessages: 0 }, /history.maxMessages must be an integer from 1/],
    [{ maxMessages: 10_000_001 }, /history.maxMessages/],
    [{ maxAgeMs: -5 }, /history.maxAgeMs/],
    [{ maxAgeMs: 1.5 }, /history.maxAgeMs/],
    [{ maxAgeMs: 25 * 24 * 3600 * 1000 }, /history.maxAgeMs/],
  ])('should refuse history %j with BAD_USER_INPUT and create nothing', async (history, why) => {
    const engine = await harness.engine();
    await expectRefusal(
      engine.createTopic({ name: 'log', kind: 'FANOUT', history }),
      ErrorCode.BadUserInput,
      why,
    );
    expect(await engine.topic('log')).toBeNull();
  });

  it('should keep the settings on the topic record and show them with the length and oldest time', async () => {
    const engine = await withHistory({ maxMessages: 10, maxAgeMs: 60_000 });
    const topic = await engine.topic('log');
    expect(topic?.history).toEqual({ maxMessages: 10, maxAgeMs: 60_000 });
    expect(await engine.topicHistoryInfo(topic as NonNullable<typeof topic>)).toEqual({
      maxMessages: 10,
      maxAgeMs: 60_000,
      length: 0,
      oldestAt: null,
    });
    const before = Date.now();
    await engine.publish({ topic: 'log', payload: 1 });
    const info = await engine.topicHistoryInfo(topic as NonNullable<typeof topic>);
    expect(info?.length).toBe(1);
    expect(Math.abs((info?.oldestAt?.getTime() ?? 0) - before)).toBeLessThan(5_000);
  });
});

describe('topicHistory', () => {
  it('should page the history oldest first, each entry the bytes its jobs store, with its cursor', async () => {
    const engine = await withHistory({ maxMessages: 100 });
    await engine.publish({ topic: 'log', payload: 0 });
    await engine.publishBatch([1, 2, 3, 4].map((payload) => ({ topic: 'log', payload })));

    const first = await engine.topicHistory('log', {}, 2);
    expect(first.edges.map((edge) => edge.node.payload)).toEqual([0, 1]);
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const next = await engine.topicHistory('log', { after: first.pageInfo.endCursor }, 10);
    expect(next.edges.map((edge) => edge.node.payload)).toEqual([2, 3, 4]);
    expect(next.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });

    const client = harness.redis.client();
    for (const { cursor, node } of [...first.edges, ...next.edges]) {
      expect(node.cursor).toBe(cursor);
      const stored = await client.xrange(engine.keys.topicHistory('log'), cursor, cursor);
      const job = await client.hget(engine.keys.bull('log', 'a').job(node.id), 'data');
      expect(stored[0]?.[1]).toEqual(['m', job]);
    }
  });

  it('should start at a time with from, and refuse from and after together, bad cursors and bad sizes', async () => {
    const engine = await withHistory({ maxMessages: 100 });
    await engine.publish({ topic: 'log', payload: 'old' });
    await waitFor(
      async () =>
        Date.now() > Date.parse((await engine.topicHistory('log', {})).edges[0]?.node.publishedAt ?? '') + 5,
    );
    const from = new Date(Date.now() + 2);
    await waitFor(() => Date.now() > from.getTime() + 2);
    await engine.publish({ topic: 'log', payload: 'new' });
    expect(await payloads(engine, { from })).toEqual(['new']);

    const after = (await engine.topicHistory('log', {})).pageInfo.endCursor as string;
    await expectRefusal(engine.topicHistory('log', { after, from }), ErrorCode.BadUserInput, /not both/);
    await expectRefusal(
      engine.topicHistory('log', { after: 'nope' }),
      ErrorCode.BadUserInput,
      /history cursor/,
    );
    await expectRefusal(engine.topicHistory('log', {}, 0), ErrorCode.BadUserInput, /first/);
    await expectRefusal(engine.topicHistory('log', {}, 1001), ErrorCode.BadUserInput, /first/);
    await expectRefusal(engine.topicHistory('nothing', {}), ErrorCode.NotFound);
  });

  it('should keep at most maxMessages, dropping the oldest', async () => {
    const engine = await withHistory({ maxMessages: 3 });
    await engine.publishBatch([1, 2, 3, 4, 5].map((payload) => ({ topic: 'log', payload })));
    await engine.publish({ topic: 'log', payload: 6 });
    expect(await payloads(engine)).toEqual([4, 5, 6]);
    expect(await harness.redis.client().xlen(engine.keys.topicHistory('log'))).toBe(3);
  });

  it('should leave out and trim what is older than maxAgeMs', async () => {
    const engine = await withHistory({ maxAgeMs: 300 });
    await engine.publish({ topic: 'log', payload: 'gone' });
    expect(await payloads(engine)).toEqual(['gone']);
    await waitFor(async () => (await payloads(engine)).length === 0, { timeoutMs: 3_000 });
    await engine.publish({ topic: 'log', payload: 'kept' });
    // Trimmed at the publish, in Redis, not only left out of reads.
    expect(await harness.redis.client().xlen(engine.keys.topicHistory('log'))).toBe(1);
    const topic = await engine.topic('log');
    expect((await engine.topicHistoryInfo(topic as NonNullable<typeof topic>))?.length).toBe(1);
  });

  it('should refuse a topic that keeps no history with BAD_USER_INPUT, and show no history for it', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'plain', kind: 'FANOUT' });
    await engine.publish({ topic: 'plain', payload: 1 });
    await expectRefusal(engine.topicHistory('plain', {}), ErrorCode.BadUserInput, /keeps no history/);
    const topic = await engine.topic('plain');
    expect(await engine.topicHistoryInfo(topic as NonNullable<typeof topic>)).toBeNull();
    expect(await harness.redis.client().exists(engine.keys.topicHistory('plain'))).toBe(0);
  });

  it('should drop the history with its topic', async () => {
    const engine = await withHistory({ maxMessages: 10 }, []);
    await engine.publish({ topic: 'log', payload: 1 });
    await engine.deleteTopic('log');
    expect(await harness.redis.client().exists(engine.keys.topicHistory('log'))).toBe(0);
  });
});

describe('a message is in the history if and only if its publish was stored', () => {
  it('should write no history entry for a publish refused whole, and none twice', async () => {
    const engine = await withHistory({ maxMessages: 100 });
    await engine.publish({ topic: 'log', payload: 'before' });
    const client = harness.redis.client();
    const wait = harness.bullQueue(engine, 'log', 'b').keys.wait as string;
    await client.set(wait, 'not a list');
    await expect(engine.publish({ topic: 'log', payload: 'refused' })).rejects.toThrow(/Nothing was written/);
    await expect(
      engine.publishBatch([
        { topic: 'log', payload: 'x' },
        { topic: 'log', payload: 'y' },
      ]),
    ).rejects.toThrow(/Nothing was written/);
    await client.del(wait);
    expect(await payloads(engine)).toEqual(['before']);

    const published = await engine.publish({ topic: 'log', payload: 'k', idempotencyKey: 'k' });
    const again = await engine.publish({ topic: 'log', payload: 'k', idempotencyKey: 'k' });
    expect(again).toMatchObject({ duplicate: true, messageId: published.messageId });
    expect(await payloads(engine)).toEqual(['before', 'k']);
  });

  it('should refuse every publish whole while the history key holds another type', async () => {
    const engine = await withHistory({ maxMessages: 100 });
    const client = harness.redis.client();
    await client.set(engine.keys.topicHistory('log'), 'not a stream');
    await expect(engine.publish({ topic: 'log', payload: 1 })).rejects.toThrow(
      /holds a string where a stream belongs/,
    );
    expect((await engine.queueStats({ topic: 'log', name: 'a' })).waiting).toBe(0);
    expect(await engine.topicStats('log')).toMatchObject({ published: 0 });
    await client.del(engine.keys.topicHistory('log'));
    await engine.publish({ topic: 'log', payload: 2 });
    expect(await payloads(engine)).toEqual([2]);
  });
});

describe('message', () => {
  it('should find a message in the history with its cursor, in a queue without one, and answer null when gone', async () => {
    const engine = await withHistory({ maxMessages: 2 });
    const { messageId: first } = await engine.publish({ topic: 'log', payload: 'first' });
    await engine.publishBatch([2, 3].map((payload) => ({ topic: 'log', payload })));
    // Trimmed from the history (maxMessages 2), still waiting in the queues.
    const fromQueue = await engine.message('log', first);
    expect(fromQueue).toMatchObject({ id: first, payload: 'first' });
    expect(fromQueue?.cursor).toBeUndefined();

    const [, last] = (await engine.topicHistory('log', {})).edges;
    const found = await engine.message('log', last?.node.id as string);
    expect(found).toEqual(last?.node);
    expect(found?.cursor).toBe(last?.cursor);

    expect(await engine.message('log', 'no-such-message')).toBeNull();
    await expectRefusal(engine.message('nothing', first), ErrorCode.NotFound);
  });
});
