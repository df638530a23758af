import { describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { defineCommands, PublishCommit } from '../../queues/redis/index.js';
import {
  chainInRedis,
  firstBreak,
  type PublishedFields,
  payloadSha256,
  publishedEntry,
  recordInRedis,
} from '../helpers/trail-chain.js';
import { eventually, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

async function fanOut(): Promise<Engine> {
  const engine = await harness.engine();
  await engine.createTopic({ name: 'fan', kind: 'FANOUT' });
  for (const name of ['a', 'b']) await engine.createQueue({ topic: 'fan', name, target: 'CONSUMER' });
  return engine;
}

/** The message as its job in fan/a stores it, read without the gateway. */
async function recordOf(engine: Engine, id: string) {
  return recordInRedis(harness.redis.client(), id, { jobKeys: [engine.keys.bull('fan', 'a').job(id)] });
}

describe('provenance trail: publish', () => {
  it("should derive a published message's PUBLISHED entry from the message it stores, writing no trail key", async () => {
    const engine = await fanOut();
    const { messageId, message } = await engine.publish({
      topic: 'fan',
      payload: { b: 2, a: 1 },
      by: 'orders-svc',
    });
    const client = harness.redis.client();
    expect(await client.exists(engine.keys.trail('fan', messageId))).toBe(0);
    const record = await recordOf(engine, messageId);
    expect(record).toMatchObject({ by: 'orders-svc', publishedAt: message?.publishedAt });
    const trail = await chainInRedis(client, record, engine.keys.trail('fan', messageId));
    expect(trail).toEqual([
      {
        action: 'PUBLISHED',
        at: message?.publishedAt,
        by: 'orders-svc',
        queue: null,
        sha256: payloadSha256({ a: 1, b: 2 }),
        prevHash: null,
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    ]);
    expect(firstBreak(messageId, trail)).toBe(-1);
    expect(await engine.messageTrail('fan', messageId)).toEqual(trail);
  });

  it('should give a keyless publish a null by, and keep no by in its stored message', async () => {
    const engine = await fanOut();
    const { messageId } = await engine.publish({ topic: 'fan', payload: 'x' });
    const data = await harness.redis.client().hget(engine.keys.bull('fan', 'a').job(messageId), 'data');
    expect(JSON.parse(data ?? '{}')).not.toHaveProperty('by');
    const trail = await engine.messageTrail('fan', messageId);
    expect(trail).toHaveLength(1);
    expect(trail[0]?.by).toBeNull();
    expect(firstBreak(messageId, trail)).toBe(-1);
  });

  it('should answer the trail of a message no queue matched while its history keeps it, and none when nothing does', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'kept', kind: 'FANOUT', history: { maxMessages: 10 } });
    await engine.createTopic({ name: 'lonely', kind: 'FANOUT' });
    const kept = await engine.publish({ topic: 'kept', payload: 'x', by: 'k' });
    const record = await recordInRedis(harness.redis.client(), kept.messageId, {
      history: engine.keys.topicHistory('kept'),
    });
    expect(record).not.toBeNull();
    const trail = await engine.messageTrail('kept', kept.messageId);
    expect(trail).toEqual([publishedEntry(record as PublishedFields)]);
    expect(trail[0]?.by).toBe('k');
    // Stored nowhere: no record, so no trail (a publish writes nothing of its own for one).
    const lonely = await engine.publish({ topic: 'lonely', payload: 'x' });
    expect(await engine.messageTrail('lonely', lonely.messageId)).toEqual([]);
  });

  it("should keep the publisher's key name from webhook receivers: the body is the message without it", async () => {
    const engine = await harness.engine();
    const receiver = await harness.receiver();
    await engine.createTopic({ name: 'hooked', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'hooked', name: 'hook', target: 'WEBHOOK', url: receiver.url });
    const { message } = await engine.publish({ topic: 'hooked', payload: { a: 1 }, by: 'orders-svc' });
    const request = await eventually(() => receiver.requests[0]);
    const body = JSON.parse(request.body) as Record<string, unknown>;
    expect(body).not.toHaveProperty('by');
    const { by, ...sent } = message ?? { by: undefined };
    expect(by).toBe('orders-svc');
    expect(body).toEqual(sent);
  });

  it('should derive one PUBLISHED entry per message of a batch, each bound to its own message id', async () => {
    const engine = await fanOut();
    const results = await engine.publishBatch([
      { topic: 'fan', payload: 1, by: 'k' },
      { topic: 'fan', payload: 1, by: 'k' },
    ]);
    const [one, two] = await Promise.all(results.map((r) => engine.messageTrail('fan', r.messageId)));
    expect(firstBreak(results[0]?.messageId ?? '', one ?? [])).toBe(-1);
    expect(firstBreak(results[1]?.messageId ?? '', two ?? [])).toBe(-1);
    // Same payload, same millisecond, same key: only the message id tells the two apart.
    expect(one?.[0]?.hash).not.toBe(two?.[0]?.hash);
    // A trail moved to another message does not verify there.
    expect(firstBreak(results[1]?.messageId ?? '', one ?? [])).toBe(0);
  });

  it('should leave no trail key when a publish is refused whole', async () => {
    const engine = await fanOut();
    const bull = harness.bullQueue(engine, 'fan', 'b');
    const client = harness.redis.client();
    await client.set(bull.keys.wait as string, 'not a list');
    await expect(engine.publish({ topic: 'fan', payload: 'refused' })).rejects.toThrow(/Nothing was written/);
    expect(await client.keys(`${engine.keys.bullPrefix('fan')}:~trail:*`)).toEqual([]);
    await client.del(bull.keys.wait as string);
  });

  it('should refuse, whole and with TRAIL_MOVED, a step whose entry links to a head that moved', async () => {
    const engine = await fanOut();
    const { messageId } = await engine.publish({ topic: 'fan', payload: 1 });
    const client = harness.redis.client();
    const commands = defineCommands(client);
    const run = (commit: PublishCommit) => commit.run((k, a) => commands.run('publish-commit-n', k, a), 1);
    const key = engine.keys.trail('fan', messageId);
    const entry = (hash: string) => JSON.stringify({ hash });

    // Nothing stored yet: a step linking to the derived PUBLISHED entry expects no stored head.
    const first = new PublishCommit();
    first.trail(key, null, 'd'.repeat(64), entry('d'.repeat(64)), 60_000);
    expect(await run(first)).toEqual([null]);

    const stale = new PublishCommit();
    stale.hincrby(engine.keys.topicStats('fan'), 'published', 1);
    // Made as if nothing were stored still: the head is the entry just appended now.
    stale.trail(key, null, 'f'.repeat(64), entry('f'.repeat(64)), 60_000);
    const [refusal] = await run(stale);
    expect(refusal).toMatch(/^TRAIL_MOVED/);
    expect(await client.lrange(key, 0, -1)).toEqual([entry('d'.repeat(64))]);
    expect(await engine.topicStats('fan')).toMatchObject({ published: 1 });

    const linked = new PublishCommit();
    linked.trail(key, 'd'.repeat(64), 'e'.repeat(64), entry('e'.repeat(64)), 60_000);
    expect(await run(linked)).toEqual([null]);
    expect(await client.llen(key)).toBe(2);
  });
});
