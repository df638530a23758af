import { describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { defineCommands, PublishCommit } from '../../queues/redis/index.js';
import { type ChainEntry, firstBreak, payloadSha256 } from '../helpers/trail-chain.js';
import { useEngineHarness } from './harness.js';

const harness = useEngineHarness();

async function fanOut(): Promise<Engine> {
  const engine = await harness.engine();
  await engine.createTopic({ name: 'fan', kind: 'FANOUT' });
  for (const name of ['a', 'b']) await engine.createQueue({ topic: 'fan', name, target: 'CONSUMER' });
  return engine;
}

/** The trail as Redis holds it, read without the gateway. */
async function storedTrail(engine: Engine, topic: string, id: string): Promise<ChainEntry[]> {
  const lines = await harness.redis.client().lrange(engine.keys.trail(topic, id), 0, -1);
  return lines.map((line) => JSON.parse(line) as ChainEntry);
}

describe('provenance trail: publish', () => {
  it('should start every published message a trail of one PUBLISHED entry that chains', async () => {
    const engine = await fanOut();
    const { messageId, message } = await engine.publish({
      topic: 'fan',
      payload: { b: 2, a: 1 },
      by: 'orders-svc',
    });
    const trail = await storedTrail(engine, 'fan', messageId);
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

  it('should give a keyless publish a null by, and a message no queue matched a trail too', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'lonely', kind: 'FANOUT' });
    const { messageId } = await engine.publish({ topic: 'lonely', payload: 'x' });
    const trail = await storedTrail(engine, 'lonely', messageId);
    expect(trail).toHaveLength(1);
    expect(trail[0]?.by).toBeNull();
    expect(firstBreak(messageId, trail)).toBe(-1);
  });

  it('should start one trail per message of a batch, each bound to its own message id', async () => {
    const engine = await fanOut();
    const results = await engine.publishBatch([
      { topic: 'fan', payload: 1, by: 'k' },
      { topic: 'fan', payload: 1, by: 'k' },
    ]);
    const [one, two] = await Promise.all(results.map((r) => storedTrail(engine, 'fan', r.messageId)));
    expect(firstBreak(results[0]?.messageId ?? '', one ?? [])).toBe(-1);
    expect(firstBreak(results[1]?.messageId ?? '', two ?? [])).toBe(-1);
    // Same payload, same millisecond, same key: only the message id tells the two apart.
    expect(one?.[0]?.hash).not.toBe(two?.[0]?.hash);
    // A trail moved to another message does not verify there.
    expect(firstBreak(results[1]?.messageId ?? '', one ?? [])).toBe(0);
  });

  it('should keep a trail for the retention after its last step', async () => {
    const engine = await fanOut();
    const { messageId } = await engine.publish({ topic: 'fan', payload: 1 });
    const ttl = await harness.redis.client().pttl(engine.keys.trail('fan', messageId));
    expect(ttl).toBeGreaterThan(14 * 24 * 3600_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(14 * 24 * 3600_000);
  });

  it('should leave no trail entry when a publish is refused whole', async () => {
    const engine = await fanOut();
    const bull = harness.bullQueue(engine, 'fan', 'b');
    const client = harness.redis.client();
    await client.set(bull.keys.wait as string, 'not a list');
    const before = await client.keys(`${engine.keys.bullPrefix('fan')}:~trail:*`);
    await expect(engine.publish({ topic: 'fan', payload: 'refused' })).rejects.toThrow(/Nothing was written/);
    expect(await client.keys(`${engine.keys.bullPrefix('fan')}:~trail:*`)).toEqual(before);
    await client.del(bull.keys.wait as string);
  });

  it('should refuse, whole and with TRAIL_MOVED, a step whose entry links to a head that moved', async () => {
    const engine = await fanOut();
    const { messageId } = await engine.publish({ topic: 'fan', payload: 1 });
    const client = harness.redis.client();
    const commands = defineCommands(client);
    const key = engine.keys.trail('fan', messageId);
    const [published] = await storedTrail(engine, 'fan', messageId);
    const stale = new PublishCommit();
    stale.hincrby(engine.keys.topicStats('fan'), 'published', 1);
    // Made as if the trail were still empty: its head is the PUBLISHED entry now.
    stale.trail(key, null, 'f'.repeat(64), JSON.stringify({ hash: 'f'.repeat(64) }), 60_000);
    const [refusal] = await stale.run((k, a) => commands.run('publish-commit-n', k, a), 1);
    expect(refusal).toMatch(/^TRAIL_MOVED/);
    expect(await storedTrail(engine, 'fan', messageId)).toEqual([published]);
    expect(await engine.topicStats('fan')).toMatchObject({ published: 1 });

    const linked = new PublishCommit();
    linked.trail(
      key,
      published?.hash ?? null,
      'e'.repeat(64),
      JSON.stringify({ hash: 'e'.repeat(64) }),
      60_000,
    );
    expect(await linked.run((k, a) => commands.run('publish-commit-n', k, a), 1)).toEqual([null]);
    expect(await client.llen(key)).toBe(2);
  });
});
