import { describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { useEngineHarness } from '../engine/harness.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import {
  type ChainEntry,
  chainInRedis,
  firstBreak,
  payloadSha256,
  recordInRedis,
} from '../helpers/trail-chain.js';

const harness = useEngineHarness();

async function setUp(keyPrefix?: string): Promise<Engine> {
  const engine = await harness.engine({ runWorkers: false, ...(keyPrefix ? { keyPrefix } : {}) });
  await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
  for (const name of ['a', 'b']) {
    await engine.createQueue({ topic: 'orders', name, target: 'CONSUMER', retry: { maxAttempts: 1 } });
  }
  return engine;
}

/** Takes the message's delivery from the queue and fails it for good; waits for the dead letter. */
async function deadLetter(engine: Engine, queue: string, messageId: string): Promise<string> {
  const [delivery] = await engine.receive('orders', queue, 1, 2_000);
  expect(delivery?.message.id).toBe(messageId);
  await engine.nack(delivery?.id ?? '', 'REJECTED', 'declined');
  const id = `orders/${queue}/${messageId}`;
  await waitFor(async () => (await engine.deadLetters.get(id)) !== null, { message: 'no dead letter' });
  return id;
}

/**
 * The whole trail as Redis holds it, read without the gateway: PUBLISHED derived from the message
 * record (its job in a or b, else the topic's history), then the entries the trail key stores.
 */
async function storedTrail(engine: Engine, id: string): Promise<ChainEntry[]> {
  const client = harness.redis.client();
  const record = await recordInRedis(client, id, {
    jobKeys: ['a', 'b'].map((queue) => engine.keys.bull('orders', queue).job(id)),
    history: engine.keys.topicHistory('orders'),
  });
  return chainInRedis(client, record, engine.keys.trail('orders', id));
}

/** The entries the trail key itself stores: only the steps after PUBLISHED. */
async function storedEntries(engine: Engine, id: string): Promise<ChainEntry[]> {
  const lines = await harness.redis.client().lrange(engine.keys.trail('orders', id), 0, -1);
  return lines.map((line) => JSON.parse(line) as ChainEntry);
}

describe('provenance trail: dead-letter replays', () => {
  it('should chain REPLAYED, EDITED and REPLAYED_TO_QUEUE after PUBLISHED, the edit keeping the old hash', async () => {
    const engine = await setUp();
    await engine.deleteQueue('orders', 'b');
    const { messageId } = await engine.publish({ topic: 'orders', payload: { v: 1 }, by: 'shop' });
    await engine.createQueue({ topic: 'orders', name: 'b', target: 'CONSUMER', retry: { maxAttempts: 1 } });

    await engine.deadLetters.replay(await deadLetter(engine, 'a', messageId), { by: 'ops' });
    await engine.deadLetters.replay(await deadLetter(engine, 'a', messageId), {
      payload: { v: 2 },
      by: 'ops',
    });
    await engine.deadLetters.replay(await deadLetter(engine, 'a', messageId), { toQueue: 'b' });

    const trail = await storedTrail(engine, messageId);
    expect(trail.map(({ action, by, queue }) => [action, by, queue])).toEqual([
      ['PUBLISHED', 'shop', null],
      ['REPLAYED', 'ops', 'a'],
      ['EDITED', 'ops', 'a'],
      ['REPLAYED_TO_QUEUE', null, 'b'],
    ]);
    expect(trail.map((entry) => entry.sha256)).toEqual([
      payloadSha256({ v: 1 }),
      payloadSha256({ v: 1 }),
      payloadSha256({ v: 2 }),
      payloadSha256({ v: 2 }),
    ]);
    expect(firstBreak(messageId, trail)).toBe(-1);
    expect(await engine.messageTrail('orders', messageId)).toEqual(trail);
    // The key holds the steps after PUBLISHED, the first linked to the PUBLISHED entry derived from the record.
    expect(await storedEntries(engine, messageId)).toEqual(trail.slice(1));
    expect(trail[1]?.prevHash).toBe(trail[0]?.hash);
    const [delivery] = await engine.receive('orders', 'b', 1, 2_000);
    expect(delivery?.message.payload).toEqual({ v: 2 });
  });

  it("should keep a replayed message's stored entries for the retention after its last step", async () => {
    const engine = await setUp();
    const { messageId } = await engine.publish({ topic: 'orders', payload: 1 });
    const client = harness.redis.client();
    const key = engine.keys.trail('orders', messageId);
    expect(await client.exists(key)).toBe(0);
    await engine.deadLetters.replay(await deadLetter(engine, 'a', messageId));
    const ttl = await client.pttl(key);
    expect(ttl).toBeGreaterThan(14 * 24 * 3600_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(14 * 24 * 3600_000);
  });

  it('should chain every message of a bulk replay', async () => {
    const engine = await setUp();
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) ids.push((await engine.publish({ topic: 'orders', payload: n })).messageId);
    for (const id of ids) await deadLetter(engine, 'a', id);
    const result = await engine.deadLetters.replayMany({ queue: 'a' }, 10, 'bulk');
    expect(result.replayed).toBe(3);
    for (const id of ids) {
      const trail = await storedTrail(engine, id);
      expect(trail.map((entry) => [entry.action, entry.by, entry.queue])).toEqual([
        ['PUBLISHED', null, null],
        ['REPLAYED', 'bulk', 'a'],
      ]);
      expect(firstBreak(id, trail)).toBe(-1);
    }
  });

  it('should chain two replays of one fanned-out message made at once on two instances', async () => {
    const keyPrefix = uniquePrefix();
    const engine = await setUp(keyPrefix);
    const other = await harness.engine({ runWorkers: false, keyPrefix });
    const { messageId } = await engine.publish({ topic: 'orders', payload: 'fan' });
    const fromA = await deadLetter(engine, 'a', messageId);
    const fromB = await deadLetter(engine, 'b', messageId);
    await Promise.all([engine.deadLetters.replay(fromA), other.deadLetters.replay(fromB)]);
    const trail = await storedTrail(engine, messageId);
    expect(trail.map((entry) => entry.action)).toEqual(['PUBLISHED', 'REPLAYED', 'REPLAYED']);
    expect(
      trail
        .slice(1)
        .map((entry) => entry.queue)
        .sort(),
    ).toEqual(['a', 'b']);
    expect(firstBreak(messageId, trail)).toBe(-1);
  });

  it('should append nothing when the replay is refused (no longer a dead letter, a bad payload)', async () => {
    const engine = await setUp();
    const { messageId } = await engine.publish({ topic: 'orders', payload: 1 });
    const id = await deadLetter(engine, 'a', messageId);
    await engine.deadLetters.replay(id);
    await expect(engine.deadLetters.replay(id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(engine.deadLetters.replay(id, { toQueue: 'b' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect((await storedTrail(engine, messageId)).map((entry) => entry.action)).toEqual([
      'PUBLISHED',
      'REPLAYED',
    ]);
  });

  it('should show a changed stored entry of a replayed message as the chain broken exactly there', async () => {
    const engine = await setUp();
    const { messageId } = await engine.publish({ topic: 'orders', payload: 1 });
    await engine.deadLetters.replay(await deadLetter(engine, 'a', messageId));
    await engine.deadLetters.replay(await deadLetter(engine, 'a', messageId), { payload: 2 });
    const key = engine.keys.trail('orders', messageId);
    const client = harness.redis.client();
    const [replayed] = await storedEntries(engine, messageId);
    await client.lset(key, 0, JSON.stringify({ ...replayed, by: 'someone-else' }));
    const trail = await storedTrail(engine, messageId);
    expect(trail.map((entry) => entry.action)).toEqual(['PUBLISHED', 'REPLAYED', 'EDITED']);
    expect(firstBreak(messageId, trail)).toBe(1);
    expect(await engine.messageTrail('orders', messageId)).toEqual(trail);
  });

  it.each([
    ['by', { by: 'someone-else' }],
    ['publishedAt', { publishedAt: '2020-01-01T00:00:00.000Z' }],
  ])(
    "should show the message record's %s changed as the chain broken at the stored entry after PUBLISHED",
    async (_field, change) => {
      const engine = await setUp();
      await engine.deleteQueue('orders', 'b');
      const { messageId } = await engine.publish({ topic: 'orders', payload: 1, by: 'shop' });
      await engine.deadLetters.replay(await deadLetter(engine, 'a', messageId), { by: 'ops' });
      const before = await storedTrail(engine, messageId);
      expect(firstBreak(messageId, before)).toBe(-1);
      const client = harness.redis.client();
      const job = engine.keys.bull('orders', 'a').job(messageId);
      const data = JSON.parse((await client.hget(job, 'data')) ?? '{}') as Record<string, unknown>;
      await client.hset(job, 'data', JSON.stringify({ ...data, ...change }));
      const trail = await storedTrail(engine, messageId);
      // The derived PUBLISHED entry hashes the changed record; the stored REPLAYED entry links to the original.
      expect(trail[0]?.hash).not.toBe(before[0]?.hash);
      expect(firstBreak(messageId, trail)).toBe(1);
      expect(await engine.messageTrail('orders', messageId)).toEqual(trail);
    },
  );

  it('should chain the replays of two jobs of one queue holding the same message, one after the other', async () => {
    const engine = await harness.engine({ runWorkers: false });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT', history: { maxMessages: 100 } });
    await engine.createQueue({ topic: 'orders', name: 'b', target: 'CONSUMER', retry: { maxAttempts: 1 } });
    const { messageId } = await engine.publish({ topic: 'orders', payload: 'twice' });
    const task = await engine.replayTopic({ topic: 'orders', queue: 'b', from: new Date(0) });
    await waitFor(async () => (await engine.replayTask(task.id))?.state === 'DONE');
    const deliveries = await engine.receive('orders', 'b', 2, 2_000);
    expect(deliveries.map((delivery) => delivery.message.id)).toEqual([messageId, messageId]);
    for (const delivery of deliveries) await engine.nack(delivery.id, 'REJECTED', 'no');
    await waitFor(
      async () =>
        (await engine.deadLetters.page({ queue: 'b' }, { first: 10, after: null })).edges.length === 2,
    );
    expect((await engine.deadLetters.replayMany({ queue: 'b' }, 10)).replayed).toBe(2);
    const trail = await storedTrail(engine, messageId);
    expect(trail.map((entry) => entry.action)).toEqual([
      'PUBLISHED',
      'REPLAYED_TO_QUEUE',
      'REPLAYED',
      'REPLAYED',
    ]);
    expect(firstBreak(messageId, trail)).toBe(-1);
  });
});
