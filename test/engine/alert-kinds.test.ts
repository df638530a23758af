import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Engine, EngineOptions } from '../../queues/engine/engine.js';
import type { AlertThresholds, AlertTransition } from '../../queues/stats/alerts.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import { FAST_RETRY, useEngineHarness } from './harness.js';

const harness = useEngineHarness();
/** Every kind off; each test turns on the ones it checks. */
const OFF: AlertThresholds = {
  lagMs: 0,
  depth: 0,
  deadLetters: 0,
  circuitOpen: false,
  deliveryLatencyMs: 0,
  failureRate: 0,
  retries: 0,
};

async function alerting(thresholds: Partial<AlertThresholds>, options: Partial<EngineOptions> = {}) {
  // intervalMs 0: evaluations happen when the test asks, so every transition is the test's doing.
  return harness.engine({
    ...options,
    alerts: { intervalMs: 0, thresholds: { ...OFF, ...thresholds }, ...options.alerts },
  });
}

/** Topic `orders` with CONSUMER queues `own` (its own thresholds) and `plain` (the gateway's). */
async function twoQueues(engine: Engine, own: Parameters<Engine['createQueue']>[0]['alerts']) {
  await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
  const retry = { ...FAST_RETRY, maxAttempts: 5 };
  await engine.createQueue({ topic: 'orders', name: 'own', target: 'CONSUMER', retry, alerts: own });
  await engine.createQueue({ topic: 'orders', name: 'plain', target: 'CONSUMER', retry });
}

/** Takes one delivery of `queue` (waiting up to a second) and acks or nacks it. */
async function settle(engine: Engine, queue: string, outcome: 'ack' | 'nack') {
  const [delivery] = await engine.receive('orders', queue, 1, 1_000);
  if (!delivery) throw new Error(`nothing to receive from ${queue}`);
  if (outcome === 'ack') await engine.ack(delivery.id);
  else await engine.nack(delivery.id, 'PROCESSING', 'try again');
  return delivery;
}

const summary = (transitions: AlertTransition[]) =>
  transitions.map(({ state, alert }) => [state, alert.kind, alert.queue, alert.value, alert.threshold]);

describe('alert kinds over the window', () => {
  it('fires FAILURE_RATE at the queue threshold, not at the gateway one, and resolves below it', async () => {
    const engine = await alerting({ failureRate: 0.9 });
    await twoQueues(engine, { maxFailureRate: 0.5 });
    await engine.publish({ topic: 'orders', payload: 1 });
    await settle(engine, 'own', 'ack');
    await settle(engine, 'plain', 'ack');
    expect(await engine.evaluateAlerts()).toEqual([]);

    await engine.publish({ topic: 'orders', payload: 2 });
    await settle(engine, 'own', 'nack');
    await settle(engine, 'plain', 'nack');
    // 1 failed of 2 attempts: at `own`'s 0.5, under the gateway's 0.9 that `plain` falls back to.
    const fired = await engine.evaluateAlerts();
    expect(summary(fired)).toEqual([['FIRING', 'FAILURE_RATE', 'own', 0.5, 0.5]]);
    expect(fired[0]?.alert.message).toBe('orders/own: 1 of 2 attempts failed, 50 % (alert at 50 %)');

    // The retry succeeds: 1 of 3.
    await settle(engine, 'own', 'ack');
    expect(summary(await engine.evaluateAlerts())).toEqual([['RESOLVED', 'FAILURE_RATE', 'own', 1 / 3, 0.5]]);
    expect(await engine.alerts()).toEqual([]);
  });

  it('fires RETRIES when a message needs the threshold number of attempts, and resolves once it leaves the window', async () => {
    const engine = await alerting({ retries: 3 }, { alerts: { intervalMs: 0, windowMs: 1_000 } });
    await twoQueues(engine, { maxAttempts: 2 });
    await engine.publish({ topic: 'orders', payload: 1 });
    await settle(engine, 'own', 'nack');
    await settle(engine, 'plain', 'nack');
    expect(await engine.evaluateAlerts()).toEqual([]);

    // The second attempt of each: `own` fires at 2, `plain` waits for the gateway's 3.
    await settle(engine, 'own', 'ack');
    await settle(engine, 'plain', 'nack');
    const fired = await engine.evaluateAlerts();
    expect(summary(fired)).toEqual([['FIRING', 'RETRIES', 'own', 2, 2]]);
    expect(fired[0]?.alert.message).toBe('orders/own: a message needed 2 attempts (alert at 2)');
    await settle(engine, 'plain', 'ack');
    expect(summary(await engine.evaluateAlerts())).toEqual([['FIRING', 'RETRIES', 'plain', 3, 3]]);

    // Nothing new: both leave the 1 s window.
    await sleep(1_300);
    expect(summary(await engine.evaluateAlerts()).sort()).toEqual([
      ['RESOLVED', 'RETRIES', 'own', 0, 2],
      ['RESOLVED', 'RETRIES', 'plain', 0, 3],
    ]);
  });

  it('fires DELIVERY_LATENCY on the P95 over the window, at the queue threshold, and resolves once it leaves', async () => {
    const engine = await alerting(
      { deliveryLatencyMs: 60_000 },
      { alerts: { intervalMs: 0, windowMs: 1_000 } },
    );
    await twoQueues(engine, { maxDeliveryLatencyMs: 150 });
    await engine.publish({ topic: 'orders', payload: 1 });
    await settle(engine, 'own', 'ack');
    expect(await engine.evaluateAlerts()).toEqual([]);

    await engine.publish({ topic: 'orders', payload: 2 });
    await sleep(200);
    await settle(engine, 'own', 'ack');
    await settle(engine, 'plain', 'ack');
    await settle(engine, 'plain', 'ack');
    // Of two deliveries the P95 is the slower one.
    const [fired, ...others] = await engine.evaluateAlerts();
    expect(others).toEqual([]);
    expect(fired).toMatchObject({
      state: 'FIRING',
      alert: { kind: 'DELIVERY_LATENCY', queue: 'own', threshold: 150 },
    });
    expect(fired?.alert.value).toBeGreaterThanOrEqual(196);
    expect(fired?.alert.value).toBeLessThan(1_000);

    await sleep(1_300);
    expect(summary(await engine.evaluateAlerts()).map((row) => row.slice(0, 3))).toEqual([
      ['RESOLVED', 'DELIVERY_LATENCY', 'own'],
    ]);
  });

  it('fires QUEUE_DEPTH and QUEUE_LAG at a queue threshold that overrides the gateway one', async () => {
    const engine = await alerting({ depth: 100, lagMs: 60_000 });
    await twoQueues(engine, { maxWaiting: 2, maxLagMs: 100 });
    await engine.publish({ topic: 'orders', payload: 1 });
    expect(await engine.evaluateAlerts()).toEqual([]);
    await engine.publish({ topic: 'orders', payload: 2 });
    await sleep(150);
    expect(
      summary(await engine.evaluateAlerts())
        .map((row) => row.slice(0, 3))
        .sort(),
    ).toEqual([
      ['FIRING', 'QUEUE_DEPTH', 'own'],
      ['FIRING', 'QUEUE_LAG', 'own'],
    ]);
    // A queue's threshold of 0 turns the kind off for it; null goes back to the gateway's.
    await engine.updateQueue('orders', 'own', { alerts: { maxWaiting: 0, maxLagMs: null } });
    expect(
      summary(await engine.evaluateAlerts())
        .map((row) => row.slice(0, 3))
        .sort(),
    ).toEqual([
      ['RESOLVED', 'QUEUE_DEPTH', 'own'],
      ['RESOLVED', 'QUEUE_LAG', 'own'],
    ]);
    expect((await engine.registry.requireQueue('orders', 'own')).alerts).toEqual({
      maxWaiting: 0,
      maxLagMs: null,
      maxDeliveryLatencyMs: null,
      maxFailureRate: null,
      maxAttempts: null,
    });
  });

  it('announces each transition once over three instances, from counts one of them made, to subscribers on another', async () => {
    const keyPrefix = uniquePrefix();
    const options = {
      keyPrefix,
      alerts: { intervalMs: 0, flushMs: 50, thresholds: { ...OFF, failureRate: 0.6 } },
    };
    const instances = await Promise.all([1, 2, 3].map(() => alerting({}, options)));
    const [first, second, third] = instances;
    if (!first || !second || !third) throw new Error('no engines');
    const stream = await third.alertsStream();
    const received: AlertTransition[] = [];
    const reading = (async () => {
      for await (const transition of stream) {
        received.push(transition);
        if (received.length === 2) break;
      }
    })();

    await first.createTopic({ name: 'orders', kind: 'FANOUT' });
    await first.createQueue({
      topic: 'orders',
      name: 'own',
      target: 'CONSUMER',
      retry: { ...FAST_RETRY, maxAttempts: 3 },
    });
    await first.publish({ topic: 'orders', payload: 1 });
    await settle(first, 'own', 'nack');
    // `second` never saw the failure: it reads it from the window `first` flushed to Redis.
    await waitFor(async () => (await second.evaluateAlerts()).length === 1, {
      message: "the second instance to fire on the first one's counts",
    });
    expect((await Promise.all(instances.map((engine) => engine.evaluateAlerts()))).flat()).toEqual([]);

    await settle(first, 'own', 'ack');
    await sleep(150);
    const resolved = (await Promise.all(instances.map((engine) => engine.evaluateAlerts()))).flat();
    // 1 failed of 2: under 0.6.
    expect(summary(resolved)).toEqual([['RESOLVED', 'FAILURE_RATE', 'own', 0.5, 0.6]]);

    await waitFor(() => received.length === 2, { message: 'both transitions on the third instance' });
    await reading;
    expect(received.map(({ state, alert }) => [state, alert.id])).toEqual([
      ['FIRING', 'FAILURE_RATE:orders/own'],
      ['RESOLVED', 'FAILURE_RATE:orders/own'],
    ]);
    expect(Date.parse(received[0]?.at ?? '')).toBeGreaterThan(0);
  });

  it('refuses bad thresholds and changes nothing', async () => {
    const engine = await alerting({});
    await twoQueues(engine, { maxWaiting: 5 });
    const before = await engine.registry.requireQueue('orders', 'own');
    for (const alerts of [
      { maxWaiting: -1 },
      { maxLagMs: 1.5 },
      { maxFailureRate: 1.01 },
      { maxFailureRate: -0.1 },
    ]) {
      await expect(engine.updateQueue('orders', 'own', { concurrency: 3, alerts })).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
      });
      await expect(
        engine.createQueue({ topic: 'orders', name: 'bad', target: 'CONSUMER', alerts }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    }
    expect(await engine.registry.requireQueue('orders', 'own')).toEqual(before);
    expect(await engine.registry.getQueue('orders', 'bad')).toBeNull();
  });
});
