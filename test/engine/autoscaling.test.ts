import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import {
  AUTOSCALE_DEFAULTS,
  type AutoscaleSettings,
  nextScale,
  type ScaleState,
} from '../../queues/delivery/autoscaler.js';
import type { Engine } from '../../queues/engine/engine.js';
import type { CreateQueueInput, QueueSettingsInput } from '../../queues/registry/registry.js';
import type { Receiver } from '../helpers/receiver.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import { expectRefusal, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

/** Quick steps, so a test sees a whole rise and fall within a couple of seconds. */
const FAST_SCALING: Partial<AutoscaleSettings> = { sampleMs: 50, lagHighMs: 300, upAfter: 2, downAfter: 4 };

/** A receiver that holds each request `holdMs` and counts how many it holds at once. */
function holdingReceiver(receiver: Receiver, holdMs: number) {
  const seen = { now: 0, max: 0 };
  receiver.respond = () => {
    seen.now++;
    seen.max = Math.max(seen.max, seen.now);
    setTimeout(() => seen.now--, holdMs);
    return { status: 204, delayMs: holdMs };
  };
  return seen;
}

async function rangedQueue(engine: Engine, url: string, settings: Partial<CreateQueueInput> = {}) {
  await engine.createTopic({ name: 'orders', kind: 'FANOUT' }).catch(() => undefined);
  return engine.createQueue({
    topic: 'orders',
    name: 'hook',
    target: 'WEBHOOK',
    url,
    minConcurrency: 1,
    maxConcurrency: 8,
    retry: { maxAttempts: 1 },
    ...settings,
  });
}

const publishMany = (engine: Engine, count: number) =>
  Promise.all(Array.from({ length: count }, (_, n) => engine.publish({ topic: 'orders', payload: { n } })));

const QUEUE = { topic: 'orders', name: 'hook' };
const concurrencyOf = async (engine: Engine) => (await engine.queueStats(QUEUE)).concurrency;

describe('nextScale', () => {
  const settings: AutoscaleSettings = { ...AUTOSCALE_DEFAULTS, upAfter: 2, downAfter: 3 };
  const range = { min: 2, max: 16 };
  const run = (start: ScaleState, samples: { waiting: number; lagMs: number | null; busy: number }[]) => {
    const states: ScaleState[] = [];
    for (const sample of samples) states.push(nextScale(states.at(-1) ?? start, range, sample, settings));
    return states;
  };
  const at = (current: number): ScaleState => ({ current, pressed: 0, calm: 0 });

  it('doubles after upAfter pressed samples in a row, up to the maximum', () => {
    const states = run(
      at(4),
      Array.from({ length: 8 }, () => ({ waiting: 100, lagMs: 50, busy: 16 })),
    );
    expect(states.map((state) => state.current)).toEqual([4, 8, 8, 16, 16, 16, 16, 16]);
  });

  it('counts a lag past lagHighMs as pressure even with fewer waiting than workers', () => {
    const states = run(at(4), [
      { waiting: 1, lagMs: settings.lagHighMs, busy: 4 },
      { waiting: 1, lagMs: settings.lagHighMs, busy: 4 },
    ]);
    expect(states.at(-1)?.current).toBe(8);
  });

  it('halves after downAfter calm samples, never below the minimum', () => {
    const calm = { waiting: 0, lagMs: null, busy: 0 };
    const states = run(
      at(16),
      Array.from({ length: 12 }, () => calm),
    );
    expect(states.map((state) => state.current)).toEqual([16, 16, 8, 8, 8, 4, 4, 4, 2, 2, 2, 2]);
  });

  it('holds in the band between pressed and calm, and a broken streak starts over', () => {
    const states = run(at(8), [
      // Fewer waiting than workers and a short lag: neither pressed nor calm.
      { waiting: 3, lagMs: 20, busy: 8 },
      // Nothing waits but most workers are busy: the queue just keeps up, so no step down.
      { waiting: 0, lagMs: null, busy: 6 },
      { waiting: 0, lagMs: null, busy: 6 },
      { waiting: 0, lagMs: null, busy: 6 },
      // Pressed, calm, pressed, calm: each streak broken before it counts.
      { waiting: 20, lagMs: 10, busy: 8 },
      { waiting: 0, lagMs: null, busy: 0 },
      { waiting: 20, lagMs: 10, busy: 8 },
      { waiting: 0, lagMs: null, busy: 0 },
      { waiting: 0, lagMs: null, busy: 0 },
    ]);
    expect(states.map((state) => state.current)).toEqual([8, 8, 8, 8, 8, 8, 8, 8, 8]);
  });

  it('pulls a current value outside the range into it', () => {
    expect(nextScale(at(40), range, { waiting: 5, lagMs: 0, busy: 5 }, settings).current).toBe(16);
    expect(nextScale(at(1), range, { waiting: 1, lagMs: 0, busy: 1 }, settings).current).toBe(2);
  });
});

describe('a queue with a concurrency range', () => {
  it('grows toward maxConcurrency while a backlog rises and falls back to minConcurrency once it drains', async () => {
    const engine = await harness.engine({ autoscale: FAST_SCALING });
    const receiver = await harness.receiver();
    const held = holdingReceiver(receiver, 60);
    await rangedQueue(engine, receiver.url);
    expect(await concurrencyOf(engine)).toBe(1);

    const seen: number[] = [];
    const watch = setInterval(() => void concurrencyOf(engine).then((value) => seen.push(value ?? 0)), 20);
    try {
      await publishMany(engine, 200);
      await waitFor(async () => (await concurrencyOf(engine)) === 8, {
        timeoutMs: 5_000,
        message: 'the concurrency to reach maxConcurrency (8)',
      });
      await waitFor(() => held.max === 8, { timeoutMs: 5_000, message: 'the receiver to see 8 at once' });
      await waitFor(() => receiver.requests.length === 200, { timeoutMs: 15_000, message: 'every delivery' });
      await waitFor(async () => (await concurrencyOf(engine)) === 1, {
        timeoutMs: 5_000,
        message: 'the concurrency to fall back to minConcurrency (1)',
      });
    } finally {
      clearInterval(watch);
    }
    // It climbed through the steps (1, 2, 4, 8) rather than jumping, and never left the range.
    expect(new Set(seen)).toEqual(new Set([1, 2, 4, 8]));
    expect(held.max).toBe(8);

    // A second backlog: it rises again.
    await publishMany(engine, 60);
    await waitFor(async () => ((await concurrencyOf(engine)) ?? 0) > 1, {
      timeoutMs: 5_000,
      message: 'the concurrency to rise again',
    });
    await waitFor(() => receiver.requests.length === 260, { timeoutMs: 15_000, message: 'every delivery' });
  });

  it('moves each instance’s own workers: two instances both scale up and both come back down', async () => {
    const keyPrefix = uniquePrefix();
    const a = await harness.engine({ keyPrefix, autoscale: FAST_SCALING });
    const b = await harness.engine({ keyPrefix, autoscale: FAST_SCALING });
    const receiver = await harness.receiver();
    const held = holdingReceiver(receiver, 80);
    await rangedQueue(a, receiver.url, { maxConcurrency: 4 });
    // The other instance starts its worker once it hears of the new queue.
    await waitFor(async () => (await concurrencyOf(b)) === 1, { message: 'instance b to run a worker' });
    expect(await concurrencyOf(a)).toBe(1);

    await publishMany(a, 240);
    await waitFor(async () => (await concurrencyOf(a)) === 4 && (await concurrencyOf(b)) === 4, {
      timeoutMs: 5_000,
      message: 'both instances at maxConcurrency (4)',
    });
    // More at once than one instance's maximum: both instances' workers were delivering.
    await waitFor(() => held.max > 4, { timeoutMs: 5_000, message: 'the receiver to see both instances' });
    expect(held.max).toBeLessThanOrEqual(8);
    await waitFor(() => receiver.requests.length === 240, { timeoutMs: 15_000, message: 'every delivery' });
    await waitFor(async () => (await concurrencyOf(a)) === 1 && (await concurrencyOf(b)) === 1, {
      timeoutMs: 5_000,
      message: 'both instances back at minConcurrency (1)',
    });
  });

  it('follows an update at once: a narrowed range pulls the worker in, and no range fixes it again', async () => {
    const engine = await harness.engine({ autoscale: FAST_SCALING });
    const receiver = await harness.receiver();
    holdingReceiver(receiver, 100);
    await rangedQueue(engine, receiver.url);
    await publishMany(engine, 300);
    await waitFor(async () => (await concurrencyOf(engine)) === 8, { timeoutMs: 5_000 });

    const narrowed = await engine.updateQueue('orders', 'hook', { maxConcurrency: 3 });
    expect(narrowed).toMatchObject({ minConcurrency: 1, maxConcurrency: 3 });
    expect(await concurrencyOf(engine)).toBe(3);

    const fixed = await engine.updateQueue('orders', 'hook', {
      minConcurrency: null,
      maxConcurrency: null,
      concurrency: 2,
    });
    expect(fixed).not.toHaveProperty('minConcurrency');
    expect(fixed).not.toHaveProperty('maxConcurrency');
    expect(await concurrencyOf(engine)).toBe(2);
    // Under the same backlog a fixed queue stays where it is.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await concurrencyOf(engine)).toBe(2);
  });

  it('reports no concurrency for a CONSUMER queue, which runs no worker here', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER' });
    expect((await engine.queueStats({ topic: 'orders', name: 'pull' })).concurrency).toBeNull();
  });
});

describe('concurrency range input', () => {
  const refusals: [string, Partial<CreateQueueInput>, RegExp][] = [
    ['min above max', { minConcurrency: 5, maxConcurrency: 4 }, /minConcurrency \(5\) must be at most/],
    ['min alone', { minConcurrency: 2, maxConcurrency: null }, /maxConcurrency is missing/],
    ['max alone', { minConcurrency: null, maxConcurrency: 2 }, /minConcurrency is missing/],
    ['a zero min', { minConcurrency: 0, maxConcurrency: 4 }, /minConcurrency must be an integer from 1/],
    ['a max over 1000', { minConcurrency: 1, maxConcurrency: 1001 }, /maxConcurrency must be an integer/],
    ['a fractional max', { minConcurrency: 1, maxConcurrency: 2.5 }, /maxConcurrency must be an integer/],
    [
      'a concurrency outside the range',
      { minConcurrency: 2, maxConcurrency: 4, concurrency: 9 },
      /concurrency \(9\) must lie within/,
    ],
  ];

  it.each(refusals)('refuses %s with BAD_USER_INPUT and creates nothing', async (_, settings, message) => {
    const engine = await harness.engine();
    const receiver = await harness.receiver();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await expectRefusal(rangedQueue(engine, receiver.url, settings), ErrorCode.BadUserInput, message);
    expect(await engine.queues('orders')).toEqual([]);
  });

  it('refuses a range on a CONSUMER queue', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await expectRefusal(
      engine.createQueue({
        topic: 'orders',
        name: 'pull',
        target: 'CONSUMER',
        minConcurrency: 1,
        maxConcurrency: 2,
      }),
      ErrorCode.BadUserInput,
      /Only WEBHOOK queues take a concurrency range/,
    );
    expect(await engine.queues('orders')).toEqual([]);
  });

  it('starts at minConcurrency unless told, and checks an update against the whole queue', async () => {
    const engine = await harness.engine();
    const receiver = await harness.receiver();
    const created = await rangedQueue(engine, receiver.url, { minConcurrency: 3, maxConcurrency: 6 });
    expect(created).toMatchObject({ concurrency: 3, minConcurrency: 3, maxConcurrency: 6 });
    const before = await engine.queue('orders', 'hook');
    const refused: [QueueSettingsInput, RegExp][] = [
      [{ minConcurrency: 7 }, /minConcurrency \(7\) must be at most maxConcurrency \(6\)/],
      [{ concurrency: 8 }, /concurrency \(8\) must lie within/],
      [{ maxConcurrency: null }, /maxConcurrency is missing/],
    ];
    for (const [input, message] of refused) {
      await expectRefusal(engine.updateQueue('orders', 'hook', input), ErrorCode.BadUserInput, message);
    }
    expect(await engine.queue('orders', 'hook')).toEqual(before);
    // Moving one end pulls the start into the new range.
    expect(await engine.updateQueue('orders', 'hook', { minConcurrency: 4 })).toMatchObject({
      concurrency: 4,
      minConcurrency: 4,
      maxConcurrency: 6,
    });
  });
});
