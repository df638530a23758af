import { describe, expect, it } from 'vitest';
import { ErrorCode, SwitchyardError } from '../../queues/core/errors.js';
import type { Engine } from '../../queues/engine/engine.js';
import { waitFor } from '../helpers/redis.js';
import { topicsOnDistinctMasters } from './cluster.js';
import { useClusterHarness } from './harness.js';

/**
 * The core flows on a real Redis Cluster (3 masters, 3 replicas), with topics whose hash tags land
 * on three different masters: what a single Redis does, a cluster must do too.
 */
const harness = useClusterHarness();
const FAST_RETRY = { backoff: 'FIXED', delayMs: 50, maxDelayMs: 50, jitter: false } as const;
const ALERTS_OFF = { lagMs: 0, depth: 0, deadLetters: 0, circuitOpen: false };

let topicNames: string[] | null = null;
/** Three topic names on three masters, found once per file. */
async function spreadTopics(): Promise<string[]> {
  topicNames ??= await topicsOnDistinctMasters(harness.cluster, 'orders', 3);
  return topicNames;
}

/** Three FANOUT topics on three masters, each with CONSUMER queues a and b. */
async function threeTopics(engine: Engine): Promise<string[]> {
  const topics = await spreadTopics();
  for (const topic of topics) {
    await engine.createTopic({ name: topic, kind: 'FANOUT' });
    await engine.createQueue({ topic, name: 'a', target: 'CONSUMER' });
    await engine.createQueue({ topic, name: 'b', target: 'CONSUMER', retry: { maxAttempts: 1 } });
  }
  return topics;
}

async function refusal(promise: Promise<unknown>): Promise<SwitchyardError> {
  const error = await promise.then(
    () => null,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(SwitchyardError);
  return error as SwitchyardError;
}

describe('publish on a cluster', () => {
  it('should fan out to every queue of topics on three masters, concurrent publishes included', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const topics = await threeTopics(engine);
    const masters = await Promise.all(topics.map((topic) => harness.cluster.masterOf(`{t:${topic}}`)));
    expect(new Set(masters).size).toBe(3);

    // 60 publishes in one event-loop turn: one group-commit flush holding three slots.
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, n) => engine.publish({ topic: topics[n % 3] as string, payload: n })),
    );
    expect(results.every((result) => result.routedTo.join() === 'a,b')).toBe(true);
    for (const topic of topics) {
      for (const name of ['a', 'b']) {
        expect(await engine.queueStats({ topic, name })).toMatchObject({ waiting: 20 });
      }
      expect(await engine.topicStats(topic)).toMatchObject({ published: 20, unrouted: 0 });
    }
  });

  it('should keep topic histories on three masters, find a message by id and trim its index', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const topics = await spreadTopics();
    for (const topic of topics) {
      await engine.createTopic({
        name: topic,
        kind: 'FANOUT',
        history: { maxMessages: 2, maxAgeMs: 60_000 },
      });
    }
    const results = await Promise.all(
      Array.from({ length: 9 }, (_, n) => engine.publish({ topic: topics[n % 3] as string, payload: n })),
    );
    for (const [n, result] of results.entries()) {
      const topic = topics[n % 3] as string;
      // The first of each topic's three publishes was trimmed (maxMessages 2), with its index entry.
      const found = await engine.message(topic, result.messageId);
      if (n < 3) expect(found).toBeNull();
      else expect(found).toMatchObject({ id: result.messageId, payload: n });
    }
    for (const topic of topics) {
      const record = await engine.topic(topic);
      expect((await engine.topicHistoryInfo(record as NonNullable<typeof record>))?.length).toBe(2);
      await engine.deleteTopic(topic);
    }
  });

  it('should route DIRECT and TOPIC bindings and count the unrouted', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const [direct, pattern] = (await spreadTopics()).map((name) => `${name}-r`) as [string, string];
    await engine.createTopic({ name: direct, kind: 'DIRECT' });
    await engine.createQueue({ topic: direct, name: 'eu', target: 'CONSUMER', bindingKey: 'eu' });
    await engine.createTopic({ name: pattern, kind: 'TOPIC' });
    await engine.createQueue({ topic: pattern, name: 'all', target: 'CONSUMER', bindingKey: 'order.#' });

    expect((await engine.publish({ topic: direct, routingKey: 'eu', payload: 1 })).routedTo).toEqual(['eu']);
    expect((await engine.publish({ topic: direct, routingKey: 'us', payload: 2 })).routedTo).toEqual([]);
    expect(
      (await engine.publish({ topic: pattern, routingKey: 'order.created.eu', payload: 3 })).routedTo,
    ).toEqual(['all']);
    expect(await engine.topicStats(direct)).toMatchObject({ published: 2, unrouted: 1 });
  });

  it('should store a message once per idempotency key, on every master', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const topics = await threeTopics(engine);
    for (const topic of topics) {
      const [first, again] = await Promise.all([
        engine.publish({ topic, payload: 1, idempotencyKey: 'k' }),
        engine.publish({ topic, payload: 1, idempotencyKey: 'k' }).catch((error: unknown) => error),
      ]);
      const second = again instanceof SwitchyardError ? null : again;
      // A racing twin either sees the first as a duplicate or is told to retry (CONFLICT); never stored twice.
      if (second) expect(second).toMatchObject({ duplicate: true, messageId: first.messageId });
      else expect((again as SwitchyardError).code).toBe(ErrorCode.Conflict);
      const later = await engine.publish({ topic, payload: 1, idempotencyKey: 'k' });
      expect(later).toMatchObject({ duplicate: true, messageId: first.messageId });
      expect(await engine.queueStats({ topic, name: 'a' })).toMatchObject({ waiting: 1 });
    }
  });

  it('should take a publishBatch within one topic whole, and refuse one spanning topics with nothing written', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const [one, two] = (await threeTopics(engine)) as [string, string, string];
    const batch = await engine.publishBatch(
      Array.from({ length: 100 }, (_, n) => ({ topic: one, payload: n, idempotencyKey: `b${n % 90}` })),
    );
    expect(batch.filter((result) => result.duplicate)).toHaveLength(10);
    expect(await engine.queueStats({ topic: one, name: 'a' })).toMatchObject({ waiting: 90 });

    const refused = await refusal(
      engine.publishBatch([
        { topic: one, payload: 'x' },
        { topic: two, payload: 'y' },
      ]),
    );
    expect(refused.code).toBe(ErrorCode.BadUserInput);
    expect(refused.message).toMatch(/Redis Cluster.*one topic/);
    expect(await engine.queueStats({ topic: one, name: 'a' })).toMatchObject({ waiting: 90 });
    expect(await engine.queueStats({ topic: two, name: 'a' })).toMatchObject({ waiting: 0 });
  });
});

describe('delivery on a cluster', () => {
  it('should retry a failing webhook, then dead-letter it, and query, replay and discard dead letters', async () => {
    const engine = await harness.engine();
    const receiver = await harness.receiver();
    const topics = await spreadTopics();
    for (const topic of topics) {
      await engine.createTopic({ name: topic, kind: 'FANOUT' });
      await engine.createQueue({
        topic,
        name: 'hook',
        target: 'WEBHOOK',
        url: receiver.url,
        retry: { ...FAST_RETRY, maxAttempts: 3 },
      });
    }
    let failing = true;
    receiver.respond = () => (failing ? { status: 503, body: 'down' } : { status: 204 });
    for (const topic of topics) await engine.publish({ topic, payload: { topic } });

    await waitFor(
      async () => {
        const stats = await Promise.all(topics.map((topic) => engine.queueStats({ topic, name: 'hook' })));
        return stats.every((one) => one.failed === 1);
      },
      { timeoutMs: 10_000, message: 'three dead letters' },
    );
    expect(receiver.requests).toHaveLength(9);

    const all = await engine.deadLetters.page({}, { first: 10 });
    expect(all.edges).toHaveLength(3);
    expect(all.edges.every(({ node }) => node.reason === 'PROCESSING')).toBe(true);
    const [first, second, third] = topics as [string, string, string];
    const ofFirst = await engine.deadLetters.page({ topic: first, reason: 'PROCESSING' });
    expect(ofFirst.edges.map(({ node }) => node.message.topic)).toEqual([first]);

    failing = false;
    const replayed = await engine.deadLetters.replay(ofFirst.edges[0]?.node.id as string);
    expect(replayed.ids).toHaveLength(1);
    await waitFor(async () => (await engine.queueStats({ topic: first, name: 'hook' })).completed === 1, {
      timeoutMs: 10_000,
      message: 'the replayed dead letter was not delivered',
    });

    const ofSecond = await engine.deadLetters.page({ topic: second });
    expect(await engine.deadLetters.discard(ofSecond.edges[0]?.node.id as string)).toBe(true);
    const left = await engine.deadLetters.page({});
    expect(left.edges.map(({ node }) => node.message.topic)).toEqual([third]);
  });

  it("should route through one engine by queues created and deleted through another just before, each topic's routing version on its own master", async () => {
    const keyPrefix = `r${Date.now().toString(36)}`;
    const a = await harness.engine({ keyPrefix, runWorkers: false });
    const b = await harness.engine({ keyPrefix, runWorkers: false });
    const topics = await spreadTopics();
    for (const topic of topics) {
      expect(await harness.cluster.masterOf(a.keys.topicRouting(topic))).toBe(
        await harness.cluster.masterOf(`{t:${topic}}`),
      );
      await a.createTopic({ name: topic, kind: 'FANOUT' });
      await a.createQueue({ topic, name: 'old', target: 'CONSUMER' });
    }
    // B routes every topic once, so it holds each topic's routing at its version.
    await Promise.all(topics.map((topic) => b.publish({ topic, payload: 'warm' })));
    for (const topic of topics) {
      await a.createQueue({ topic, name: 'new', target: 'CONSUMER' });
      await a.deleteQueue(topic, 'old');
    }

    const results = await Promise.all(topics.map((topic) => b.publish({ topic, payload: 'after' })));

    expect(results.map((result) => result.routedTo)).toEqual([['new'], ['new'], ['new']]);
    for (const topic of topics) {
      expect(await a.queueStats({ topic, name: 'new' })).toMatchObject({ waiting: 1 });
      expect(await a.topicStats(topic)).toMatchObject({ published: 2, unrouted: 0 });
    }
    // A version moved on with no announcement at all: B's next publishes are refused on each topic's
    // master, routed again and applied once.
    for (const topic of topics) {
      const key = a.keys.topicRouting(topic);
      await harness.cluster.node(await harness.cluster.masterOf(key)).incr(key);
    }
    const again = await Promise.all(topics.map((topic) => b.publish({ topic, payload: 'again' })));
    expect(again.map((result) => result.routedTo)).toEqual([['new'], ['new'], ['new']]);
    for (const topic of topics) {
      expect(await a.queueStats({ topic, name: 'new' })).toMatchObject({ waiting: 2 });
      expect(await a.topicStats(topic)).toMatchObject({ published: 3, unrouted: 0 });
    }
  });

  it('should share a consume stream of one queue between two engines, each message to one of them', async () => {
    const keyPrefix = `t${Date.now().toString(36)}`;
    const one = await harness.engine({ keyPrefix });
    const other = await harness.engine({ keyPrefix });
    const [topic] = (await spreadTopics()) as [string];
    await one.createTopic({ name: topic, kind: 'FANOUT' });
    await one.createQueue({ topic, name: 'work', target: 'CONSUMER' });
    const streams = [await one.consume(topic, 'work', 5), await other.consume(topic, 'work', 5)];
    const got: { by: number; payload: unknown }[] = [];
    const pumps = streams.map(async (stream, by) => {
      const engine = by === 0 ? one : other;
      for await (const delivery of stream) {
        got.push({ by, payload: delivery.message.payload });
        await engine.ack(delivery.id);
        if (got.length >= 40) break;
      }
    });
    await one.publishBatch(Array.from({ length: 40 }, (_, n) => ({ topic, payload: n })));
    await waitFor(() => got.length >= 40, { timeoutMs: 10_000, message: '40 deliveries' });
    for (const stream of streams) await stream.return?.();
    await Promise.race([Promise.all(pumps), new Promise((resolve) => setTimeout(resolve, 2_000))]);
    expect(new Set(got.map(({ payload }) => payload)).size).toBe(40);
    expect(got).toHaveLength(40);
    expect(await one.queueStats({ topic, name: 'work' })).toMatchObject({ waiting: 0, active: 0 });
  });
});

describe('live, security and alerts on a cluster', () => {
  it('should carry live messages published on one engine to a tail on another', async () => {
    const keyPrefix = `t${Date.now().toString(36)}l`;
    const publisher = await harness.engine({ keyPrefix, runWorkers: false });
    const tail = await harness.engine({ keyPrefix, runWorkers: false });
    const topics = await spreadTopics();
    for (const topic of topics) await publisher.createTopic({ name: topic, kind: 'FANOUT' });
    // The tail's engine finds topics made on the other one before their announcement arrives (a name
    // its routing table lacks is looked up in Redis); the retry only guards against a slow start.
    const streams = await Promise.all(
      topics.map((topic) => waitFor(() => tail.messages(topic), { message: `no tail on ${topic}` })),
    );
    const seen: unknown[] = [];
    const readers = streams.map(async (stream) => {
      for await (const message of stream) {
        seen.push(message.payload);
        if (new Set(seen).size >= 3) break;
      }
    });
    // The publisher learns of the tails from the interest announcements (and PUBSUB CHANNELS).
    await waitFor(
      async () => {
        for (const topic of topics) await publisher.publish({ topic, payload: topic });
        return new Set(seen).size >= 3;
      },
      { timeoutMs: 5_000, intervalMs: 200, message: 'live messages did not cross engines' },
    );
    for (const stream of streams) await stream.return?.();
    await Promise.race([Promise.all(readers), new Promise((resolve) => setTimeout(resolve, 1_000))]);
    expect(new Set(seen)).toEqual(new Set(topics));
  });

  it('should share rate-limit buckets between engines and keep API keys', async () => {
    const keyPrefix = `t${Date.now().toString(36)}s`;
    const rateLimit = { perSecond: 1, burst: 4 };
    const one = await harness.engine({ keyPrefix, rateLimit, runWorkers: false });
    const other = await harness.engine({ keyPrefix, rateLimit, runWorkers: false });
    const verdicts = [];
    for (let n = 0; n < 6; n++) {
      const limiter = (n % 2 === 0 ? one : other).rateLimiter;
      if (!limiter) throw new Error('rate limiting is off');
      verdicts.push(await limiter.take('key-1'));
    }
    expect(verdicts.map((verdict) => verdict.allowed)).toEqual([true, true, true, true, false, false]);

    const created = await one.apiKeys.create('ci', ['admin']);
    expect(await other.apiKeys.authenticate(created.secret)).toMatchObject({ id: created.key.id });
    expect(await other.apiKeys.revoke(created.key.id)).toBe(true);
    expect(await one.apiKeys.authenticate(created.secret)).toBeNull();
    expect((await one.auditLog.list(10)).length).toBeGreaterThanOrEqual(0);
  });

  it('should fire and resolve a DEAD_LETTERS alert for a queue on another master than the alerts hash', async () => {
    const engine = await harness.engine({
      runWorkers: false,
      alerts: { intervalMs: 0, thresholds: { ...ALERTS_OFF, deadLetters: 1 } },
    });
    const [topic] = (await threeTopics(engine)) as [string];
    await engine.publish({ topic, payload: 1 });
    const [delivery] = await engine.receive(topic, 'b', 1, 1_000);
    if (!delivery) throw new Error('nothing received');
    await engine.nack(delivery.id);
    await waitFor(async () => (await engine.queueStats({ topic, name: 'b' })).failed === 1);
    // Other kinds (a failure rate, say) may fire too: this test is about the one in another slot.
    const fired = (await engine.evaluateAlerts()).filter(({ alert }) => alert.kind === 'DEAD_LETTERS');
    expect(fired).toMatchObject([{ state: 'FIRING', alert: { kind: 'DEAD_LETTERS', topic, queue: 'b' } }]);
    const firing = (await engine.alerts()).filter(({ kind }) => kind === 'DEAD_LETTERS');
    expect(firing).toMatchObject([{ kind: 'DEAD_LETTERS', topic }]);

    await engine.deadLetters.discardMany({ topic });
    const resolved = (await engine.evaluateAlerts()).filter(({ alert }) => alert.kind === 'DEAD_LETTERS');
    expect(resolved).toMatchObject([{ state: 'RESOLVED' }]);
  });
});

describe('circuit breaker, metrics and health on a cluster', () => {
  it('should open a circuit and close it on reset, and render metrics of queues on three masters', async () => {
    const engine = await harness.engine({ circuit: { failures: 2, cooldownMs: 60_000 } });
    const receiver = await harness.receiver();
    receiver.respond = () => ({ status: 503 });
    const topics = await spreadTopics();
    for (const topic of topics) {
      await engine.createTopic({ name: topic, kind: 'FANOUT' });
      await engine.createQueue({
        topic,
        name: 'hook',
        target: 'WEBHOOK',
        url: receiver.url,
        retry: { ...FAST_RETRY, maxAttempts: 10 },
      });
    }
    const [topic] = topics as [string];
    await engine.publish({ topic, payload: 1 });
    await waitFor(async () => (await engine.circuit(topic, 'hook')).state === 'OPEN', {
      timeoutMs: 10_000,
      message: 'the circuit never opened',
    });
    await engine.resetCircuit(topic, 'hook');
    expect((await engine.circuit(topic, 'hook')).state).toBe('CLOSED');

    expect(await engine.redisHealthy()).toBe(true);
    const metrics = await engine.metrics.render();
    for (const name of topics) expect(metrics).toContain(`topic="${name}"`);
  });
});

describe('dead letters moved between queues on a cluster', () => {
  it('should replay a dead letter into another queue of its topic (WATCH and MULTI on its master), and replayMany', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const topics = await threeTopics(engine);
    for (const topic of topics) {
      await engine.publish({ topic, payload: topic });
      const [delivery] = await engine.receive(topic, 'b', 1, 1_000);
      if (!delivery) throw new Error('nothing received');
      await engine.nack(delivery.id);
    }
    const [first] = topics as [string];
    const [dead] = (await engine.deadLetters.page({ topic: first })).edges;
    if (!dead) throw new Error('no dead letter');
    // A queue created after the publish, so it does not hold the message yet.
    await engine.createQueue({ topic: first, name: 'c', target: 'CONSUMER' });
    await engine.deadLetters.replay(dead.node.id, { toQueue: 'c', payload: 'edited' });
    expect(await engine.queueStats({ topic: first, name: 'b' })).toMatchObject({ failed: 0 });
    const moved = await engine.receive(first, 'c', 5, 0);
    expect(moved.map((delivery) => delivery.message.payload)).toEqual(['edited']);

    // Every topic's remaining dead letter, replayed in place across two masters in one call.
    const many = await engine.deadLetters.replayMany({}, 10);
    expect(many.ids).toHaveLength(2);
    for (const topic of topics.slice(1)) {
      expect(await engine.queueStats({ topic, name: 'b' })).toMatchObject({ failed: 0, waiting: 1 });
    }
  });
});

describe('request-reply on a cluster', () => {
  it('should carry a reply sent on one engine back to the request waiting on another (pattern pub/sub)', async () => {
    const keyPrefix = `t${Date.now().toString(36)}r`;
    const asker = await harness.engine({ keyPrefix, runWorkers: false });
    const answerer = await harness.engine({ keyPrefix, runWorkers: false });
    const [, topic] = (await spreadTopics()) as [string, string];
    await asker.createTopic({ name: topic, kind: 'FANOUT' });
    await asker.createQueue({ topic, name: 'pull', target: 'CONSUMER' });
    const answered = asker.request({ topic, payload: { a: 2, b: 3 } }, 5_000);
    const [delivery] = await answerer.receive(topic, 'pull', 1, 3_000);
    if (!delivery) throw new Error('the request never arrived');
    expect(await answerer.reply(delivery.id, { sum: 5 })).toBe(true);
    expect(await answered).toMatchObject({ messageId: delivery.message.id, payload: { sum: 5 } });
  });
});
