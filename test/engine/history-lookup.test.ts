import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import type { Engine } from '../../queues/engine/engine.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import { expectRefusal, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

async function withHistory(history: { maxAgeMs?: number; maxMessages?: number }) {
  const engine = await harness.engine();
  await engine.createTopic({ name: 'log', kind: 'FANOUT', history });
  return engine;
}

// One MONITOR for the file, opened before any engine: opened while engines PING every 20 ms, ioredis
// can take a monitored line for the answer to MONITOR itself ("Command queue state error").
let monitor: Redis | undefined;
const seen: string[][] = [];
beforeAll(async () => {
  monitor = await harness.redis.client().monitor();
  monitor.on('monitor', (_time: string, args: string[]) => seen.push(args.map(String)));
});
afterAll(() => {
  monitor?.disconnect();
});

/** Waits until MONITOR has shown a marker sent now; answers its position in `seen`. */
async function shown(): Promise<number> {
  const marker = `marker-${uniquePrefix()}`;
  await harness.redis.client().echo(marker);
  await waitFor(() => seen.some((args) => args.includes(marker)), { timeoutMs: 3000 });
  return seen.findIndex((args) => args.includes(marker));
}

/** The commands Redis ran while `work` ran (MONITOR), each as its arguments. */
async function commandsDuring(work: () => Promise<unknown>): Promise<string[][]> {
  const start = await shown();
  await work();
  const end = await shown();
  return seen.slice(start + 1, end);
}

const historyReads = (commands: string[][], engine: Engine) =>
  commands.filter(
    (args) => args[0]?.toLowerCase() === 'xrange' && args[1] === engine.keys.topicHistory('log'),
  );

describe('message(topic, id) in a topic history', () => {
  it('should find a message by its id with one point read of the history, not a scan', async () => {
    const engine = await withHistory({ maxMessages: 5000 });
    const ids: string[] = [];
    for (let batch = 0; batch < 3; batch++) {
      const results = await engine.publishBatch(
        Array.from({ length: 1000 }, (_, n) => ({ topic: 'log', payload: batch * 1000 + n })),
      );
      ids.push(...results.map((result) => result.messageId));
    }
    const wanted = ids[2500] as string;
    let found: Awaited<ReturnType<Engine['message']>> = null;
    const commands = await commandsDuring(async () => {
      found = await engine.message('log', wanted);
    });
    expect(found).toMatchObject({ id: wanted, payload: 2500 });
    const reads = historyReads(commands, engine);
    expect(reads).toHaveLength(1);
    const [, , start, end] = reads[0] as string[];
    expect(start).toBe(end);
    expect(start).toBe((found as unknown as { cursor: string }).cursor);
  });

  it('should answer null for an id it never kept, without scanning what the index covers', async () => {
    const engine = await withHistory({ maxMessages: 100 });
    await engine.publishBatch([1, 2, 3].map((payload) => ({ topic: 'log', payload })));
    const commands = await commandsDuring(async () => {
      expect(await engine.message('log', 'no-such-message')).toBeNull();
    });
    for (const [, , , end] of historyReads(commands, engine)) expect(end?.startsWith('(')).toBe(true);
    await expectRefusal(engine.message('nothing', 'no-such-message'), ErrorCode.NotFound);
  });

  it('should still find a message stored before the index existed, by scanning only that older part', async () => {
    const engine = await withHistory({ maxMessages: 100 });
    const old = await engine.publishBatch([1, 2].map((payload) => ({ topic: 'log', payload })));
    // As a history written before this version: no index.
    await harness.redis.client().del(engine.keys.topicHistoryIds('log'));
    const fresh = await engine.publish({ topic: 'log', payload: 3 });

    expect(await engine.message('log', old[1]?.messageId as string)).toMatchObject({ payload: 2 });
    expect(await engine.message('log', fresh.messageId)).toMatchObject({ payload: 3 });
    const commands = await commandsDuring(async () => {
      expect(await engine.message('log', 'no-such-message')).toBeNull();
    });
    const [scan] = historyReads(commands, engine);
    const freshCursor = (await engine.message('log', fresh.messageId))?.cursor;
    expect(scan?.[3]).toBe(`(${freshCursor}`);
  });
});

describe('the history index keeps what the history keeps', () => {
  it('should drop the index entries of what maxMessages trims', async () => {
    const engine = await withHistory({ maxMessages: 3 });
    const first = await engine.publishBatch([1, 2, 3, 4, 5].map((payload) => ({ topic: 'log', payload })));
    await engine.publish({ topic: 'log', payload: 6 });
    // Trimmed, and in no queue (the topic has none): gone, as before the index.
    expect(await engine.message('log', first[0]?.messageId as string)).toBeNull();
    expect(await engine.message('log', first[4]?.messageId as string)).toMatchObject({ payload: 5 });
    const index = await harness.redis.client().hkeys(engine.keys.topicHistoryIds('log'));
    // The three kept messages, and the mark of where the index starts.
    expect(index).toHaveLength(4);
    expect(index).not.toContain(first[0]?.messageId);
    const topic = await engine.topic('log');
    expect((await engine.topicHistoryInfo(topic as NonNullable<typeof topic>))?.length).toBe(3);
  });

  it('should drop the index entries of what maxAgeMs trims, at a publish and at Topic.history', async () => {
    const engine = await withHistory({ maxAgeMs: 300 });
    const gone = await engine.publishBatch([1, 2].map((payload) => ({ topic: 'log', payload })));
    // Reads leave out what maxAgeMs no longer keeps; Topic.history then trims it, with its index fields.
    await waitFor(async () => (await engine.topicHistory('log', {})).edges.length === 0, { timeoutMs: 3000 });
    for (const { messageId } of gone) expect(await engine.message('log', messageId)).toBeNull();
    const topic = await engine.topic('log');
    expect((await engine.topicHistoryInfo(topic as NonNullable<typeof topic>))?.length).toBe(0);
    expect(await harness.redis.client().hlen(engine.keys.topicHistoryIds('log'))).toBe(1);

    const kept = await engine.publish({ topic: 'log', payload: 3 });
    await waitFor(async () => (await engine.topicHistory('log', {})).edges.length === 0, { timeoutMs: 3000 });
    await engine.publish({ topic: 'log', payload: 4 });
    expect(await harness.redis.client().hkeys(engine.keys.topicHistoryIds('log'))).not.toContain(
      kept.messageId,
    );
    expect(await harness.redis.client().hlen(engine.keys.topicHistoryIds('log'))).toBe(2);
  });

  it('should drop the index with its topic', async () => {
    const engine = await withHistory({ maxMessages: 10 });
    await engine.publish({ topic: 'log', payload: 1 });
    await engine.deleteTopic('log');
    expect(await harness.redis.client().exists(engine.keys.topicHistoryIds('log'))).toBe(0);
  });

  it('should refuse every publish whole while the index key holds another type', async () => {
    const engine = await withHistory({ maxMessages: 10 });
    const client = harness.redis.client();
    await client.set(engine.keys.topicHistoryIds('log'), 'not a hash');
    await expect(engine.publish({ topic: 'log', payload: 1 })).rejects.toThrow(
      /holds a string where a hash belongs/,
    );
    expect(await client.xlen(engine.keys.topicHistory('log'))).toBe(0);
    await client.del(engine.keys.topicHistoryIds('log'));
    await engine.publish({ topic: 'log', payload: 2 });
    expect(await client.xlen(engine.keys.topicHistory('log'))).toBe(1);
  });
});
