import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { DeliveryEvent } from '../../queues/core/events.js';
import type { CircuitOptions } from '../../queues/delivery/circuit-breaker.js';
import type { Engine } from '../../queues/engine/engine.js';
import { createKeys } from '../../queues/redis/keys.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import { FAST_RETRY, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

const QUEUE = { topic: 'orders', name: 'hook' } as const;
/** Short enough for a test, long enough to see that nothing is delivered meanwhile. */
const COOLDOWN_MS = 1_200;
/** How long the healthy endpoint takes to answer, so a second request during the probe would show. */
const PROBE_ANSWER_MS = 300;

async function webhookQueue(circuit: CircuitOptions, concurrency = 1, keyPrefix = uniquePrefix()) {
  const engine = await harness.engine({ keyPrefix, circuit: { cooldownMs: COOLDOWN_MS, ...circuit } });
  const receiver = await harness.receiver();
  await engine.createTopic({ name: QUEUE.topic, kind: 'FANOUT' });
  await engine.createQueue({
    ...QUEUE,
    target: 'WEBHOOK',
    url: receiver.url,
    concurrency,
    retry: { ...FAST_RETRY, maxAttempts: 20 },
  });
  const events: DeliveryEvent[] = [];
  engine.events.on((event) => void events.push(event));
  return { engine, receiver, events };
}

const stateOf = (engine: Engine) => engine.circuit(QUEUE.topic, QUEUE.name);

async function publish(engine: Engine, count: number) {
  for (let n = 0; n < count; n++) await engine.publish({ topic: QUEUE.topic, payload: { n } });
}

describe('circuit breaker', () => {
  it('opens after failures in a row, holds deliveries back for the cool-down, then probes once and closes', async () => {
    // Four deliveries at a time, so that "one probe, alone" is something the breaker has to enforce.
    const { engine, receiver, events } = await webhookQueue({ failures: 3 }, 4);
    let healthy = false;
    receiver.respond = () => (healthy ? { status: 204, delayMs: PROBE_ANSWER_MS } : { status: 503 });
    await publish(engine, 5);

    await waitFor(async () => (await stateOf(engine)).state === 'OPEN', {
      message: 'the circuit never opened',
    });
    const opened = await stateOf(engine);
    // Deliveries under way when it opened still count their failures.
    expect(opened.consecutiveFailures).toBeGreaterThanOrEqual(3);
    expect(Date.parse(opened.openUntil ?? '')).toBeGreaterThan(Date.now());
    const tripped = events.filter((event) => event.kind === 'FAILED' && event.reason === 'CIRCUIT_OPEN');
    expect(tripped).toHaveLength(1);
    expect(tripped[0]?.error).toMatch(/3 deliveries failed in a row/);

    // Open: no request reaches the endpoint, and no message is dead-lettered or loses an attempt.
    // Up to four were under way when the third failure opened it; nothing starts after that.
    await sleep(100);
    const seen = receiver.requests.length;
    expect(seen).toBeGreaterThanOrEqual(3);
    expect(seen).toBeLessThanOrEqual(3 + 3);
    await sleep(COOLDOWN_MS / 2);
    expect(receiver.requests.length).toBe(seen);

    healthy = true;
    await waitFor(async () => (await engine.queueStats(QUEUE)).completed === 5, {
      message: 'the messages were not delivered after the cool-down',
      timeoutMs: 10_000,
    });
    expect(await stateOf(engine)).toEqual({ state: 'CLOSED', consecutiveFailures: 0, openUntil: null });
    // The first request after the cool-down was the probe, alone: nothing else went out before it answered.
    const after = receiver.requests.slice(seen);
    expect(after).toHaveLength(5);
    const [probe, next] = after;
    expect((probe?.at ?? 0) - (receiver.requests[seen - 1]?.at ?? 0)).toBeGreaterThanOrEqual(
      COOLDOWN_MS - 200,
    );
    expect((next?.at ?? 0) - (probe?.at ?? 0)).toBeGreaterThanOrEqual(PROBE_ANSWER_MS - 20);
    expect(events.filter((event) => event.kind === 'DEAD_LETTERED')).toEqual([]);
  });

  it('reopens for twice as long when the probe fails', async () => {
    const { engine, receiver, events } = await webhookQueue({ failures: 2, maxCooldownMs: 60_000 });
    receiver.respond = () => ({ status: 500 });
    await publish(engine, 2);
    await waitFor(async () => (await stateOf(engine)).state === 'OPEN', {
      message: 'the circuit never opened',
    });
    const first = Date.parse((await stateOf(engine)).openUntil ?? '');

    await waitFor(() => events.filter((event) => event.reason === 'CIRCUIT_OPEN').length === 2, {
      message: 'the failed probe did not reopen the circuit',
      timeoutMs: 10_000,
    });
    const reopened = await stateOf(engine);
    expect(reopened.state).toBe('OPEN');
    const second = Date.parse(reopened.openUntil ?? '');
    // The second cool-down is 2 x 1,200 ms, counted from the probe's failure.
    expect(second - first).toBeGreaterThanOrEqual(2 * COOLDOWN_MS - 200);
    expect(events.filter((event) => event.reason === 'CIRCUIT_OPEN')[1]?.error).toMatch(/The probe failed/);
    expect(receiver.requests).toHaveLength(3);
  });

  it('leaves the circuit closed for failures that are the message’s fault, and resets on a success', async () => {
    const { engine, receiver } = await webhookQueue({ failures: 3 });
    // 400s are the message's fault: the endpoint is up.
    receiver.respond = () => ({ status: 400 });
    await publish(engine, 4);
    await waitFor(async () => (await engine.queueStats(QUEUE)).failed === 4, {
      message: 'the rejected messages were not dead-lettered',
    });
    expect(await stateOf(engine)).toMatchObject({ state: 'CLOSED', consecutiveFailures: 0 });

    // Two failures, a success, two failures: never three in a row.
    const script = [503, 503, 204, 503, 503, 204];
    receiver.respond = (index) => ({ status: script[index - 4] ?? 204 });
    await engine.publish({ topic: QUEUE.topic, payload: 'a' });
    await waitFor(async () => (await engine.queueStats(QUEUE)).completed === 1, {
      message: 'a was not delivered',
    });
    await engine.publish({ topic: QUEUE.topic, payload: 'b' });
    await waitFor(async () => (await engine.queueStats(QUEUE)).completed === 2, {
      message: 'b was not delivered',
    });
    expect(await stateOf(engine)).toMatchObject({ state: 'CLOSED', consecutiveFailures: 0 });
  });

  it('holds back every worker of the queue, on every instance, while open', async () => {
    const keyPrefix = uniquePrefix();
    const { engine, receiver } = await webhookQueue({ failures: 2 }, 4, keyPrefix);
    // A second instance on the same Redis and prefix runs workers for the same queue.
    const other = await harness.engine({ keyPrefix, circuit: { failures: 2, cooldownMs: COOLDOWN_MS } });
    await waitFor(() => other.webhookWorkers === 1, { message: 'the second instance started no worker' });
    receiver.respond = () => ({ status: 503 });
    await publish(engine, 20);
    await waitFor(async () => (await stateOf(other)).state === 'OPEN', {
      message: 'the circuit never opened',
    });
    // What was already under way when it opened may finish; after that, nothing goes out.
    await sleep(200);
    const seen = receiver.requests.length;
    expect(seen).toBeLessThanOrEqual(2 + 2 * 4);
    await sleep(COOLDOWN_MS / 2);
    expect(receiver.requests.length).toBe(seen);
  });

  it('fails open: a breaker that cannot be asked lets the delivery go out and reports why', async () => {
    const keyPrefix = uniquePrefix();
    const errors: Error[] = [];
    const engine = await harness.engine({
      keyPrefix,
      circuit: { failures: 3, cooldownMs: COOLDOWN_MS },
      onError: (error) => void errors.push(error),
    });
    const receiver = await harness.receiver();
    await engine.createTopic({ name: QUEUE.topic, kind: 'FANOUT' });
    await engine.createQueue({ ...QUEUE, target: 'WEBHOOK', url: receiver.url, retry: FAST_RETRY });
    // A string where the breaker keeps its hash: every script of it now fails with WRONGTYPE.
    const client = harness.redis.client();
    await client.set(createKeys(keyPrefix).circuit(QUEUE.topic, QUEUE.name), 'not a hash');
    client.disconnect();

    await publish(engine, 1);
    await waitFor(async () => (await engine.queueStats(QUEUE)).completed === 1, {
      message: 'the delivery did not go out past the broken breaker',
    });
    expect(receiver.requests).toHaveLength(1);
    expect(errors.map((error) => error.message)).toContainEqual(expect.stringMatching(/WRONGTYPE/));
  });

  it('is off with failures: 0', async () => {
    const { engine, receiver } = await webhookQueue({ failures: 0 });
    receiver.respond = (index) => (index < 6 ? { status: 503 } : { status: 204 });
    await publish(engine, 1);
    await waitFor(async () => (await engine.queueStats(QUEUE)).completed === 1, {
      message: 'the message was not delivered',
    });
    expect(receiver.requests).toHaveLength(7);
    expect(await stateOf(engine)).toMatchObject({ state: 'CLOSED', consecutiveFailures: 0 });
  });

  it('forgets the circuit of a deleted queue', async () => {
    const { engine, receiver } = await webhookQueue({ failures: 1 });
    receiver.respond = () => ({ status: 503 });
    await publish(engine, 1);
    await waitFor(async () => (await stateOf(engine)).state === 'OPEN', {
      message: 'the circuit never opened',
    });
    await engine.deleteQueue(QUEUE.topic, QUEUE.name);
    expect(await stateOf(engine)).toEqual({ state: 'CLOSED', consecutiveFailures: 0, openUntil: null });
  });
});

describe('circuit breaker, for operators', () => {
  /** Long enough that anything delivered within a test's few seconds was not waiting it out. */
  const LONG_COOLDOWN_MS = 120_000;

  async function trippedQueue(maxAttempts: number) {
    const keyPrefix = uniquePrefix();
    const engine = await harness.engine({
      keyPrefix,
      circuit: { failures: 2, cooldownMs: LONG_COOLDOWN_MS },
    });
    const receiver = await harness.receiver();
    await engine.createTopic({ name: QUEUE.topic, kind: 'FANOUT' });
    await engine.createQueue({
      ...QUEUE,
      target: 'WEBHOOK',
      url: receiver.url,
      retry: { ...FAST_RETRY, maxAttempts },
    });
    let healthy = false;
    receiver.respond = () => (healthy ? { status: 204 } : { status: 503 });
    await publish(engine, 4);
    await waitFor(async () => (await stateOf(engine)).state === 'OPEN', {
      message: 'the circuit never opened',
    });
    return { engine, receiver, keyPrefix, heal: () => (healthy = true) };
  }

  it('should close an open circuit on every instance at once with resetCircuit', async () => {
    const { engine, receiver, keyPrefix, heal } = await trippedQueue(20);
    // Another gateway instance, without workers of its own: the operator's request lands there.
    const other = await harness.engine({ keyPrefix, runWorkers: false, circuit: { failures: 2 } });
    heal();
    const before = receiver.requests.length;

    await expect(other.resetCircuit(QUEUE.topic, QUEUE.name)).resolves.toMatchObject({ name: QUEUE.name });

    expect(await stateOf(engine)).toEqual({ state: 'CLOSED', consecutiveFailures: 0, openUntil: null });
    await waitFor(async () => (await engine.queueStats(QUEUE)).completed === 4, {
      message: 'deliveries did not resume after the reset',
      timeoutMs: 10_000,
    });
    expect(receiver.requests.length - before).toBe(4);
  });

  it('should answer NOT_FOUND for resetCircuit of a queue that does not exist', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: QUEUE.topic, kind: 'FANOUT' });
    await expect(engine.resetCircuit(QUEUE.topic, 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('should send the first replayed message as the probe at once, and say so in the answer', async () => {
    // One attempt each: the failures that open the circuit go straight to the dead letters.
    const { engine, heal } = await trippedQueue(1);
    const deadLetters = await waitFor(async () => {
      const page = await engine.deadLetters.page({ topic: QUEUE.topic }, { first: 10, after: null });
      return page.edges.length >= 2 ? page.edges.length : 0;
    });
    heal();

    const result = await engine.deadLetters.replayMany({ topic: QUEUE.topic, queue: QUEUE.name }, 100);

    expect(result).toMatchObject({ replayed: deadLetters, probedQueues: [QUEUE.name] });
    // Far sooner than the two-minute cool-down: everything published, and replayed, is delivered.
    await waitFor(async () => (await engine.queueStats(QUEUE)).completed === 4, {
      message: 'the replayed messages waited for the cool-down',
      timeoutMs: 10_000,
    });
    expect(await stateOf(engine)).toMatchObject({ state: 'CLOSED' });
    const again = await engine.deadLetters.replayMany({ topic: QUEUE.topic }, 100);
    expect(again).toMatchObject({ replayed: 0, probedQueues: [] });
  });
});
