import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import type { Engine, EngineOptions } from '../../queues/engine/engine.js';
import type { AlertThresholds } from '../../queues/stats/alerts.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import { FAST_RETRY, useEngineHarness } from './harness.js';

const harness = useEngineHarness();
const PULL = { topic: 'orders', name: 'pull' } as const;
/** Every kind off; each test turns on the one it checks. */
const OFF: AlertThresholds = {
  lagMs: 0,
  depth: 0,
  deadLetters: 0,
  circuitOpen: false,
  deliveryLatencyMs: 0,
  failureRate: 0,
  retries: 0,
};
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

async function alerting(thresholds: Partial<AlertThresholds>, options: Partial<EngineOptions> = {}) {
  // intervalMs 0: evaluations happen when the test asks, so every transition is the test's doing.
  const engine = await harness.engine({
    ...options,
    alerts: { intervalMs: 0, thresholds: { ...OFF, ...thresholds }, ...options.alerts },
  });
  return engine;
}

async function consumerQueue(engine: Engine) {
  await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
  await engine.createQueue({ ...PULL, target: 'CONSUMER', retry: { maxAttempts: 1 } });
}

const publish = (engine: Engine, n = 0) => engine.publish({ topic: 'orders', payload: { n } });

describe('alerts', () => {
  it('fires QUEUE_LAG once the oldest message waits past the threshold, keeps its value fresh, and resolves', async () => {
    const engine = await alerting({ lagMs: 150 });
    await consumerQueue(engine);
    await publish(engine);
    expect(await engine.evaluateAlerts()).toEqual([]);

    await sleep(200);
    const [fired, ...others] = await engine.evaluateAlerts();
    expect(others).toEqual([]);
    expect(fired).toMatchObject({
      state: 'FIRING',
      alert: {
        id: 'QUEUE_LAG:orders/pull',
        kind: 'QUEUE_LAG',
        topic: 'orders',
        queue: 'pull',
        threshold: 150,
      },
    });
    expect(fired?.alert.value).toBeGreaterThanOrEqual(150);
    expect(fired?.alert.message).toMatch(/^orders\/pull: the oldest message has waited \d/);
    const [listed] = await engine.alerts();
    expect(listed?.since).toBe(fired?.alert.since);

    // Still firing: no new transition, but the value and message move on (by more than their rounding).
    await sleep(300);
    expect(await engine.evaluateAlerts()).toEqual([]);
    const [later] = await engine.alerts();
    expect(later?.value).toBeGreaterThan(fired?.alert.value ?? Number.POSITIVE_INFINITY);
    expect(later?.since).toBe(fired?.alert.since);
    expect(later?.message).not.toBe(fired?.alert.message);

    await engine.receive('orders', 'pull', 1, 0);
    const [resolved] = await engine.evaluateAlerts();
    expect(resolved).toMatchObject({ state: 'RESOLVED', alert: { id: 'QUEUE_LAG:orders/pull' } });
    expect(await engine.alerts()).toEqual([]);
  });

  it('fires QUEUE_DEPTH at the threshold, not before', async () => {
    const engine = await alerting({ depth: 3 });
    await consumerQueue(engine);
    await publish(engine, 1);
    await publish(engine, 2);
    expect(await engine.evaluateAlerts()).toEqual([]);
    await publish(engine, 3);
    const transitions = await engine.evaluateAlerts();
    expect(transitions.map(({ state, alert }) => [state, alert.kind, alert.value])).toEqual([
      ['FIRING', 'QUEUE_DEPTH', 3],
    ]);
  });

  it('fires DEAD_LETTERS while a queue holds dead letters, and resolves when they are discarded', async () => {
    const engine = await alerting({ deadLetters: 1 });
    await consumerQueue(engine);
    await publish(engine);
    const [delivery] = await engine.receive('orders', 'pull', 1, 0);
    await engine.nack(delivery?.id ?? '', 'REJECTED', 'no');
    const [fired] = await engine.evaluateAlerts();
    expect(fired).toMatchObject({ state: 'FIRING', alert: { kind: 'DEAD_LETTERS', value: 1, threshold: 1 } });

    await engine.deadLetters.discardMany({ topic: 'orders' });
    const [resolved] = await engine.evaluateAlerts();
    expect(resolved).toMatchObject({ state: 'RESOLVED', alert: { kind: 'DEAD_LETTERS' } });
  });

  it("fires CIRCUIT_OPEN while a webhook endpoint's breaker is open", async () => {
    const engine = await alerting({ circuitOpen: true }, { circuit: { failures: 2, cooldownMs: 60_000 } });
    const receiver = await harness.receiver();
    receiver.respond = () => ({ status: 503 });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({
      topic: 'orders',
      name: 'hook',
      target: 'WEBHOOK',
      url: receiver.url,
      retry: { ...FAST_RETRY, maxAttempts: 10 },
    });
    expect(await engine.evaluateAlerts()).toEqual([]);
    await publish(engine);
    await waitFor(async () => (await engine.circuit('orders', 'hook')).state === 'OPEN', {
      message: 'the circuit to open',
    });
    const [fired] = await engine.evaluateAlerts();
    expect(fired).toMatchObject({ state: 'FIRING', alert: { id: 'CIRCUIT_OPEN:orders/hook', value: 1 } });
  });

  it('resolves the alerts of a deleted queue', async () => {
    const engine = await alerting({ depth: 1 });
    await consumerQueue(engine);
    await publish(engine);
    expect((await engine.evaluateAlerts()).map(({ state }) => state)).toEqual(['FIRING']);
    await engine.deleteQueue('orders', 'pull');
    expect((await engine.evaluateAlerts()).map(({ state, alert }) => [state, alert.id])).toEqual([
      ['RESOLVED', 'QUEUE_DEPTH:orders/pull'],
    ]);
  });

  it('is announced by exactly one of several instances, with one signed notification per transition', async () => {
    const receiver = await harness.receiver();
    const keyPrefix = uniquePrefix();
    const webhook = { url: `${receiver.url}/alerts`, secret: SECRET };
    const instances = await Promise.all(
      [1, 2, 3].map(() =>
        alerting(
          { depth: 1 },
          { keyPrefix, alerts: { intervalMs: 0, webhook, thresholds: { ...OFF, depth: 1 } } },
        ),
      ),
    );
    const [first] = instances;
    if (!first) throw new Error('no engine');
    await consumerQueue(first);
    await publish(first);

    const fired = (await Promise.all(instances.map((engine) => engine.evaluateAlerts()))).flat();
    expect(fired.map(({ state }) => state)).toEqual(['FIRING']);
    await waitFor(() => receiver.requests.length === 1, { message: 'the firing notification' });
    await first.receive('orders', 'pull', 1, 0);
    const resolved = (await Promise.all(instances.map((engine) => engine.evaluateAlerts()))).flat();
    expect(resolved.map(({ state }) => state)).toEqual(['RESOLVED']);
    await waitFor(() => receiver.requests.length === 2, { message: 'the resolved notification' });
    await sleep(100);
    expect(receiver.requests).toHaveLength(2);

    const bodies = receiver.requests.map((request) => {
      const headers = Object.fromEntries(
        Object.entries(request.headers).map(([name, value]) => [name, String(value)]),
      );
      // Throws unless the signature is right for this body.
      return new Webhook(SECRET).verify(request.body, headers) as { type: string; alert: { id: string } };
    });
    expect(bodies.map((body) => [body.type, body.alert.id])).toEqual([
      ['alert.firing', 'QUEUE_DEPTH:orders/pull'],
      ['alert.resolved', 'QUEUE_DEPTH:orders/pull'],
    ]);
  });

  it('reports a notification that cannot be sent by its origin only, never the path that may hold a token', async () => {
    const errors: Error[] = [];
    const receiver = await harness.receiver();
    receiver.respond = () => ({ status: 400 });
    const engine = await alerting(
      { depth: 1 },
      {
        onError: (error) => errors.push(error),
        alerts: {
          intervalMs: 0,
          thresholds: { ...OFF, depth: 1 },
          webhook: { url: `${receiver.url}/T0KEN-123`, secret: null },
        },
      },
    );
    await consumerQueue(engine);
    await publish(engine);
    expect(await engine.evaluateAlerts()).toHaveLength(1);
    await waitFor(() => errors.length === 1, { message: 'the failed notification to be reported' });
    expect(errors[0]?.message).toContain(new URL(receiver.url).origin);
    expect(errors[0]?.message).not.toContain('T0KEN');
    // A 4xx is not retried; unsigned without a secret.
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]?.headers['webhook-signature']).toBeUndefined();
  });

  it('fires nothing on its own timer while no threshold is reached', async () => {
    const engine = await harness.engine({ alerts: { intervalMs: 50 } });
    await consumerQueue(engine);
    await publish(engine);
    await sleep(200);
    expect(await engine.alerts()).toEqual([]);
  });
});
