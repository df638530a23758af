import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import type { DeliveryEvent } from '../../queues/core/events.js';
import type { Engine } from '../../queues/engine/engine.js';
import { expectRefusal } from '../engine/harness.js';
import { consumerTopic, deadLetter, failAll, listAll, messageIds, useEngineHarness } from './helpers.js';

const harness = useEngineHarness();

function recordEvents(engine: Engine): DeliveryEvent[] {
  const events: DeliveryEvent[] = [];
  engine.events.on((event) => events.push(event));
  return events;
}

describe('discardDeadLetter', () => {
  it('should remove the job from BullMQ and from every query, and announce it', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a']);
    const [kept, gone] = await deadLetter(engine, 'orders', 'a', 2);
    const events = recordEvents(engine);
    const bull = harness.bullQueue(engine, 'orders', 'a');

    expect(await engine.deadLetters.discard(`orders/a/${gone}`)).toBe(true);

    expect(await bull.getJob(gone ?? '')).toBeUndefined();
    expect(await harness.redis.client().exists(`${engine.keys.bullPrefix('orders')}:a:${gone}:logs`)).toBe(0);
    expect(messageIds(await listAll(engine))).toEqual([kept]);
    expect(await engine.deadLetters.get(`orders/a/${gone}`)).toBeNull();
    expect(await (await engine.deadLetters.page({ reason: 'REJECTED' })).totalCount()).toBe(1);
    expect(await engine.queueStats({ topic: 'orders', name: 'a' })).toMatchObject({
      failed: 1,
      deadLettered: 1,
    });
    expect(events).toMatchObject([{ kind: 'DISCARDED', topic: 'orders', queue: 'a', messageId: gone }]);
    const removed = await harness.redis.client().xrange(bull.toKey('events'), '-', '+');
    expect(removed.some(([, fields]) => fields.includes('removed') && fields.includes(gone ?? ''))).toBe(
      true,
    );
  });

  it('should answer NOT_FOUND for what is not a dead letter, changing nothing', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a']);
    const [id] = await deadLetter(engine, 'orders', 'a', 1);
    await engine.publish({ topic: 'orders', routingKey: 'a', payload: 'waiting' });
    const [waiting] = await harness.bullQueue(engine, 'orders', 'a').getWaiting();
    await engine.deadLetters.discard(`orders/a/${id}`);

    await expectRefusal(engine.deadLetters.discard(`orders/a/${id}`), ErrorCode.NotFound, /does not exist/);
    await expectRefusal(engine.deadLetters.discard(`orders/a/${waiting?.id}`), ErrorCode.NotFound);
    await expectRefusal(engine.deadLetters.discard('orders/zz/x'), ErrorCode.NotFound);
    await expectRefusal(engine.deadLetters.discard('orders'), ErrorCode.BadUserInput);
    expect(await engine.queueStats({ topic: 'orders', name: 'a' })).toMatchObject({ waiting: 1, failed: 0 });
  });
});

describe('discardDeadLetters', () => {
  it('should discard everything the filter selects and answer how many', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a', 'b']);
    const rejected = await deadLetter(engine, 'orders', 'a', 4, 'REJECTED', (n) => `declined ${n}`);
    const validation = await deadLetter(engine, 'orders', 'a', 3, 'VALIDATION', () => 'bad');
    const other = await deadLetter(engine, 'orders', 'b', 2, 'REJECTED', () => 'declined too');
    const events = recordEvents(engine);

    expect(await engine.deadLetters.discardMany({ queue: 'a', search: 'DECLINED' })).toBe(4);

    expect(new Set(messageIds(await listAll(engine)))).toEqual(new Set([...validation, ...other]));
    expect(new Set(events.map((event) => event.messageId))).toEqual(new Set(rejected));
    expect(events.every((event) => event.kind === 'DISCARDED')).toBe(true);
    expect(await engine.deadLetters.discardMany({ queue: 'a', search: 'declined' })).toBe(0);
    expect(await engine.deadLetters.discardMany({})).toBe(5);
    expect(await engine.topicStats('orders')).toMatchObject({ deadLettered: 0 });
  });

  it('should discard more dead letters than one round takes', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a']);
    // Published in two batches, then failed by a plain BullMQ worker: indexed by the repair path.
    const bull = harness.bullQueue(engine, 'orders', 'a');
    for (const size of [1000, 200]) {
      await engine.publishBatch(
        Array.from({ length: size }, (_, n) => ({ topic: 'orders', routingKey: 'a', payload: n })),
      );
    }
    await failAll(harness, engine, 'orders', 'a', 1200, 'REJECTED: bulk');
    expect(await (await engine.deadLetters.page({})).totalCount()).toBe(1200);

    expect(await engine.deadLetters.discardMany({ topic: 'orders' })).toBe(1200);
    expect(await bull.getFailedCount()).toBe(0);
    expect(await listAll(engine)).toEqual([]);
  });
});
