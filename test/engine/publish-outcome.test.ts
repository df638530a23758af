import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { MessageRecord, QueueRecord, TopicHistorySettings } from '../../queues/core/types.js';
import { wasStored } from '../../queues/publish/outcome.js';
import { useEngineHarness } from './harness.js';

const harness = useEngineHarness();

/** A message of topic `t` as a publish call would have written it, with where it was routed. */
function written(options: { queue?: boolean; idempotencyKey?: string; history?: boolean } = {}): {
  message: MessageRecord;
  queues: QueueRecord[];
  history: TopicHistorySettings | null;
} {
  const message = {
    id: randomUUID(),
    topic: 't',
    idempotencyKey: options.idempotencyKey ?? null,
    publishedAt: new Date().toISOString(),
  } as MessageRecord;
  const queues = options.queue ? [{ topic: 't', name: 'q' } as QueueRecord] : [];
  return { message, queues, history: options.history ? { maxMessages: 10, maxAgeMs: null } : null };
}

/**
 * wasStored settles a publish whose answer was lost by the records publish-commit writes with it (no
 * trail key: a publish writes none). Each case writes, by hand, what a stored or unstored call leaves.
 */
describe('settling a lost answer (wasStored)', () => {
  it('should answer stored when a job of the call is there', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const client = harness.redis.client();
    const call = [written(), written({ queue: true })];
    await client.hset(engine.keys.bull('t', 'q').job(call[1]?.message.id ?? ''), 'data', '{}');
    expect(await wasStored(client, engine.keys, call)).toBe(true);
  });

  it('should answer stored when its idempotency key names the message, though its job is gone (delivered)', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const client = harness.redis.client();
    const item = written({ queue: true, idempotencyKey: 'k' });
    await client.set(engine.keys.idempotency('t', 'k'), item.message.id);
    expect(await wasStored(client, engine.keys, [item])).toBe(true);
  });

  it('should answer not stored when its idempotency key still holds its own claim', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const client = harness.redis.client();
    const item = written({ queue: true, idempotencyKey: 'k' });
    await client.set(engine.keys.idempotency('t', 'k'), `pending:${item.message.id}`);
    expect(await wasStored(client, engine.keys, [item])).toBe(false);
  });

  it("should answer stored when the topic's history holds the message", async () => {
    const engine = await harness.engine({ runWorkers: false });
    const client = harness.redis.client();
    const item = written({ history: true });
    await client.xadd(engine.keys.topicHistory('t'), '*', 'm', JSON.stringify({ id: item.message.id }));
    expect(await wasStored(client, engine.keys, [item])).toBe(true);
  });

  it('should answer UNAVAILABLE with outcome UNKNOWN when no record can tell (a job gone may have been delivered)', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const client = harness.redis.client();
    await client.xadd(engine.keys.topicHistory('t'), '*', 'm', JSON.stringify({ id: 'another' }));
    const call = [written({ queue: true }), written({ history: true }), written()];
    await expect(wasStored(client, engine.keys, call)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      details: { outcome: 'UNKNOWN' },
    });
  });
});
