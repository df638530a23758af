import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import type { CreateQueueInput } from '../../queues/registry/registry.js';
import { useEngineHarness } from './harness.js';

const harness = useEngineHarness();
const PULL = { topic: 'orders', name: 'pull' } as const;

async function consumerTopic(settings: Partial<CreateQueueInput> = {}) {
  const engine = await harness.engine();
  await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
  await engine.createQueue({ ...PULL, target: 'CONSUMER', ...settings });
  return engine;
}

const lag = async (engine: Engine) => (await engine.queueStats(PULL)).oldestWaitingAgeMs;

/** Publishes one message and answers when it was published (the gateway's clock, as BullMQ's timestamp). */
async function publishAt(engine: Engine, priority = 0): Promise<number> {
  const before = Date.now();
  await engine.publish({ topic: 'orders', payload: { priority }, priority });
  return before;
}

/** The lag must be the age of the message published at `since`: no younger, and no older than now allows. */
async function expectLagOf(engine: Engine, since: number) {
  const before = Date.now();
  const age = await lag(engine);
  expect(age).not.toBeNull();
  expect(age).toBeGreaterThanOrEqual(before - since - 5);
  expect(age).toBeLessThanOrEqual(Date.now() - since + 5);
}

describe("a queue's lag (oldestWaitingAgeMs)", () => {
  it('is null while nothing waits', async () => {
    const engine = await consumerTopic();
    expect(await lag(engine)).toBeNull();
  });

  it('is the age of the oldest message of a FIFO queue, and moves on as messages are taken', async () => {
    const engine = await consumerTopic({ maxPriority: 0 });
    const first = await publishAt(engine);
    await sleep(120);
    const second = await publishAt(engine);
    await expectLagOf(engine, first);
    expect(await lag(engine)).toBeGreaterThanOrEqual(120);

    await engine.receive('orders', 'pull', 1, 0);
    await expectLagOf(engine, second);
    await engine.receive('orders', 'pull', 1, 0);
    expect(await lag(engine)).toBeNull();
  });

  it('finds the oldest message across priorities, not the next one to be delivered', async () => {
    const engine = await consumerTopic();
    const low = await publishAt(engine, 0);
    await sleep(120);
    const high = await publishAt(engine, 9);
    await publishAt(engine, 5);
    await expectLagOf(engine, low);

    // The urgent one goes first; the oldest still waits.
    const [delivery] = await engine.receive('orders', 'pull', 1, 0);
    expect(delivery?.message.priority).toBe(9);
    expect(high).toBeGreaterThanOrEqual(low);
    await expectLagOf(engine, low);

    await engine.receive('orders', 'pull', 2, 0);
    expect(await lag(engine)).toBeNull();
  });

  it('counts messages of a paused queue', async () => {
    const engine = await consumerTopic({ maxPriority: 0 });
    await engine.pauseQueue('orders', 'pull');
    const since = await publishAt(engine);
    await sleep(50);
    await expectLagOf(engine, since);
  });

  it('leaves out a delayed message until its delay is over', async () => {
    const engine = await consumerTopic();
    await engine.publish({ topic: 'orders', payload: 1, delayMs: 60_000 });
    expect((await engine.queueStats(PULL)).delayed).toBe(1);
    expect(await lag(engine)).toBeNull();
  });
});
