import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../queues/core/index.js';
import { createEngine, type Engine } from '../../queues/engine/engine.js';
import { applyTopology, TopologyError } from '../../server/topology.js';
import { startTestRedis, type TestRedis, uniquePrefix } from '../helpers/redis.js';

let redis: TestRedis;
let dir: string;
const engines: Engine[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  dir = await mkdtemp(join(tmpdir(), 'switchyard-topology-'));
});
afterEach(async () => {
  const closed = await Promise.allSettled(engines.splice(0).map((engine) => engine.close()));
  expect(closed.filter((result) => result.status === 'rejected')).toEqual([]);
});
afterAll(async () => {
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function newEngine(keyPrefix = uniquePrefix()): Promise<Engine> {
  const engine = await createEngine({
    redisUrl: redis.url,
    keyPrefix,
    runWorkers: false,
    // The topologies name loopback URLs, which the SSRF guard refuses by default.
    webhookPolicy: { allowPrivate: true },
  });
  engines.push(engine);
  return engine;
}

let files = 0;
async function topologyFile(content: unknown): Promise<string> {
  const file = join(dir, `topology-${++files}.json`);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const ORDERS = {
  topics: [
    {
      name: 'orders',
      kind: 'TOPIC',
      description: 'Order events',
      queues: [
        {
          name: 'billing',
          target: 'WEBHOOK',
          url: 'http://127.0.0.1:9/hooks',
          bindingKey: 'order.*.created',
          retry: { maxAttempts: 3, backoff: 'FIXED', delayMs: 100, maxDelayMs: 100 },
          concurrency: 4,
        },
        { name: 'audit', target: 'CONSUMER', bindingKey: '#' },
      ],
    },
    { name: 'alerts', kind: 'FANOUT', queues: [] },
  ],
};

/** What applyTopology threw, as a TopologyError, or a failure naming what it did instead. */
async function topologyError(promise: Promise<unknown>): Promise<TopologyError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TopologyError);
  return error as TopologyError;
}

describe('applyTopology', () => {
  it('should create every topic and queue the file declares', async () => {
    const engine = await newEngine();
    const report = await applyTopology(engine, await topologyFile(ORDERS));
    expect(report.createdTopics).toEqual(['orders', 'alerts']);
    expect(report.createdQueues).toEqual(['orders/billing', 'orders/audit']);
    const billing = await engine.queue('orders', 'billing');
    expect(billing).toMatchObject({
      target: 'WEBHOOK',
      bindingKey: 'order.*.created',
      concurrency: 4,
      retry: { maxAttempts: 3, backoff: 'FIXED', delayMs: 100, maxDelayMs: 100, jitter: true },
    });
    expect(billing?.signingSecret).toMatch(/^whsec_/);
    expect((await engine.topic('orders'))?.description).toBe('Order events');
  });

  it('should change nothing when the same file is applied twice', async () => {
    const engine = await newEngine();
    const file = await topologyFile(ORDERS);
    await applyTopology(engine, file);
    const before = await engine.queue('orders', 'billing');
    const again = await applyTopology(engine, file);
    expect(again).toEqual({
      createdTopics: [],
      createdQueues: [],
      updatedQueues: [],
      unchanged: ['orders', 'orders/billing', 'orders/audit', 'alerts'],
      warnings: [],
    });
    // Not even rewritten: the signing secret a receiver holds stays valid.
    expect(await engine.queue('orders', 'billing')).toEqual(before);
  });

  it('should update a queue whose stated settings differ, keeping what the file leaves out', async () => {
    const engine = await newEngine();
    await applyTopology(engine, await topologyFile(ORDERS));
    const secret = (await engine.queue('orders', 'billing'))?.signingSecret;
    await engine.updateQueue('orders', 'audit', { ackTimeoutMs: 5000 });
    const changed = structuredClone(ORDERS);
    const billing = changed.topics[0]?.queues[0];
    if (!billing) throw new Error('fixture changed');
    billing.concurrency = 8;
    const report = await applyTopology(engine, await topologyFile(changed));
    expect(report.updatedQueues).toEqual(['orders/billing']);
    expect(await engine.queue('orders', 'billing')).toMatchObject({ concurrency: 8, signingSecret: secret });
    // The file says nothing about audit's ackTimeoutMs, so the change made over the API stays.
    expect((await engine.queue('orders', 'audit'))?.ackTimeoutMs).toBe(5000);
  });

  it('should never delete what the file no longer declares', async () => {
    const engine = await newEngine();
    await applyTopology(engine, await topologyFile(ORDERS));
    const report = await applyTopology(engine, await topologyFile({ topics: [] }));
    expect(report.unchanged).toEqual([]);
    expect((await engine.topics()).map((topic) => topic.name).sort()).toEqual(['alerts', 'orders']);
    expect(await engine.queue('orders', 'audit')).not.toBeNull();
  });

  it('should warn, not fail, about topic settings that cannot change in place', async () => {
    const engine = await newEngine();
    await applyTopology(engine, await topologyFile(ORDERS));
    const changed = structuredClone(ORDERS);
    const orders = changed.topics[0];
    if (!orders) throw new Error('fixture changed');
    orders.description = 'Renamed';
    const report = await applyTopology(engine, await topologyFile(changed));
    expect(report.warnings).toEqual([
      'topics[0] (orders): description differs from Redis and cannot be changed in place; kept',
    ]);
  });

  it('should create a queue with the maxPriority the file states, and warn, not change it, after', async () => {
    const engine = await newEngine();
    const fifo = structuredClone(ORDERS);
    const audit = fifo.topics[0]?.queues[1];
    if (!audit) throw new Error('fixture changed');
    Object.assign(audit, { maxPriority: 0 });
    await applyTopology(engine, await topologyFile(fifo));
    expect((await engine.queue('orders', 'audit'))?.maxPriority).toBe(0);
    expect((await engine.queue('orders', 'billing'))?.maxPriority).toBe(9);

    Object.assign(audit, { maxPriority: 5, ackTimeoutMs: 5000 });
    const report = await applyTopology(engine, await topologyFile(fifo));
    expect(report.warnings).toEqual([
      'topics[0] (orders).queues[1] (audit): maxPriority differs from Redis and cannot be changed in place (delete the queue to recreate it); kept',
    ]);
    // The rest of the entry still applies.
    expect(report.updatedQueues).toEqual(['orders/audit']);
    expect(await engine.queue('orders', 'audit')).toMatchObject({ maxPriority: 0, ackTimeoutMs: 5000 });
  });

  it('should apply the documented example file', async () => {
    const engine = await newEngine();
    const report = await applyTopology(engine, 'docs/topology.example.json');
    expect(report.createdTopics).toEqual(['orders', 'alerts']);
    expect(report.createdQueues).toEqual(['orders/billing', 'orders/audit', 'alerts/pager']);
    expect((await engine.queue('orders', 'audit'))?.maxPriority).toBe(0);
    expect((await applyTopology(engine, 'docs/topology.example.json')).unchanged).toHaveLength(5);
  });
});

describe('a bad topology file', () => {
  it('should name the file when it is not JSON', async () => {
    const file = await topologyFile('{ "topics": [ ');
    const error = await topologyError(applyTopology(await newEngine(), file));
    expect(error.message).toContain(`Topology file ${file} is not valid`);
    expect(error.message).toMatch(/is not JSON/);
  });

  it('should name the file when it cannot be read', async () => {
    const file = join(dir, 'missing.json');
    const error = await topologyError(applyTopology(await newEngine(), file));
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/cannot be read/);
  });

  it('should list every bad entry by its path, and apply nothing', async () => {
    const engine = await newEngine();
    const file = await topologyFile({
      topics: [
        {
          name: 'orders',
          kind: 'TOPIC',
          queues: [
            { name: 'billing', target: 'HOOK', url: 'http://127.0.0.1:9/' },
            { name: 'audit', target: 'CONSUMER', bindingkey: '#' },
          ],
        },
        { name: 'alerts', kind: 'FANOUT', maxMessageBytes: '1MB' },
        { name: 'orders', kind: 'TOPIC' },
      ],
    });
    const error = await topologyError(applyTopology(engine, file));
    expect(error.problems).toEqual([
      'topics[0] (orders).queues[0].target: expected one of WEBHOOK, CONSUMER, got "HOOK"',
      'topics[0] (orders).queues[1].bindingkey: unknown field (allowed: name, target, url, bindingKey, headers, headerMatch, deliveryMode, retry, concurrency, minConcurrency, maxConcurrency, ackTimeoutMs, maxPriority)',
      'topics[1].maxMessageBytes: expected an integer, got "1MB"',
      'topics[2].name: topic orders is declared twice',
    ]);
    expect(error.message).toContain(file);
    expect(await engine.topics()).toEqual([]);
  });

  it('should name the entry the engine refuses', async () => {
    const engine = await newEngine();
    const file = await topologyFile({
      topics: [
        { name: 'orders', kind: 'DIRECT', queues: [{ name: 'billing', target: 'WEBHOOK', url: 'ftp://x' }] },
      ],
    });
    const error = await topologyError(applyTopology(engine, file));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^topics\[0\] \(orders\)\.queues\[0\] \(billing\): /);
  });

  it('should refuse to change the kind of an existing topic', async () => {
    const engine = await newEngine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const file = await topologyFile({ topics: [{ name: 'orders', kind: 'DIRECT', queues: [] }] });
    const error = await topologyError(applyTopology(engine, file));
    expect(error.problems[0]).toMatch(
      /^topics\[0\] \(orders\): kind is DIRECT in the file but FANOUT in Redis/,
    );
  });
});

describe('concurrency ranges in a topology file', () => {
  const HOOK = { name: 'hook', target: 'WEBHOOK', url: 'http://127.0.0.1:9/hooks' };
  const ranged = (queue: Record<string, unknown>) => ({
    topics: [{ name: 'orders', kind: 'FANOUT', queues: [{ ...HOOK, ...queue }] }],
  });

  it('should create, change and clear a range, applying each file once', async () => {
    const engine = await newEngine();
    const created = await applyTopology(
      engine,
      await topologyFile(ranged({ minConcurrency: 2, maxConcurrency: 8 })),
    );
    expect(created.createdQueues).toEqual(['orders/hook']);
    // Without a concurrency the worker starts at the bottom of the range, as createQueue does.
    expect(await engine.queue('orders', 'hook')).toMatchObject({
      minConcurrency: 2,
      maxConcurrency: 8,
      concurrency: 2,
    });
    const again = await applyTopology(
      engine,
      await topologyFile(ranged({ minConcurrency: 2, maxConcurrency: 8 })),
    );
    expect(again.unchanged).toEqual(['orders', 'orders/hook']);

    // Only the top moves: the file still differs from Redis.
    const raised = await applyTopology(
      engine,
      await topologyFile(ranged({ minConcurrency: 2, maxConcurrency: 16 })),
    );
    expect(raised.updatedQueues).toEqual(['orders/hook']);
    expect((await engine.queue('orders', 'hook'))?.maxConcurrency).toBe(16);

    const moved = await applyTopology(
      engine,
      await topologyFile(ranged({ minConcurrency: 4, maxConcurrency: 16, concurrency: 6 })),
    );
    expect(moved.updatedQueues).toEqual(['orders/hook']);
    expect(await engine.queue('orders', 'hook')).toMatchObject({
      minConcurrency: 4,
      maxConcurrency: 16,
      concurrency: 6,
    });

    // Leaving the range out keeps it, like every setting the file does not state.
    expect((await applyTopology(engine, await topologyFile(ranged({})))).unchanged).toEqual([
      'orders',
      'orders/hook',
    ]);
    expect((await engine.queue('orders', 'hook'))?.maxConcurrency).toBe(16);

    const fixed = await applyTopology(
      engine,
      await topologyFile(ranged({ minConcurrency: null, maxConcurrency: null })),
    );
    expect(fixed.updatedQueues).toEqual(['orders/hook']);
    const cleared = await engine.queue('orders', 'hook');
    expect(cleared).toMatchObject({ concurrency: 6 });
    expect(cleared).not.toHaveProperty('minConcurrency');
    expect(cleared).not.toHaveProperty('maxConcurrency');
    // Null for a queue that has no range is what Redis holds already.
    const same = await applyTopology(
      engine,
      await topologyFile(ranged({ minConcurrency: null, maxConcurrency: null })),
    );
    expect(same.unchanged).toEqual(['orders', 'orders/hook']);
  });

  /** Each bad range, as a queue of its own: the path of the field it names, and the settings. */
  const REFUSED: ReadonlyArray<readonly [field: string, queue: Record<string, unknown>]> = [
    ['maxConcurrency', { minConcurrency: 2 }],
    ['minConcurrency', { minConcurrency: null, maxConcurrency: 4 }],
    ['minConcurrency', { minConcurrency: 0, maxConcurrency: 4 }],
    ['maxConcurrency', { minConcurrency: 1, maxConcurrency: 1001 }],
    ['minConcurrency', { minConcurrency: 8, maxConcurrency: 2 }],
    ['minConcurrency', { target: 'CONSUMER', url: undefined, minConcurrency: 1, maxConcurrency: 4 }],
    ['concurrency', { minConcurrency: 2, maxConcurrency: 4, concurrency: 9 }],
  ];

  /** What createQueue answers for the same settings: the message the file's problem must repeat. */
  async function apiRefusal(engine: Engine, queue: Record<string, unknown>): Promise<SwitchyardError> {
    await engine.createTopic({ name: 'api', kind: 'FANOUT' }).catch(() => undefined);
    const error = await engine
      .createQueue({ ...HOOK, ...queue, topic: 'api' } as Parameters<Engine['createQueue']>[0])
      .then(
        () => null,
        (caught: unknown) => caught,
      );
    expect(error).toBeInstanceOf(SwitchyardError);
    return error as SwitchyardError;
  }

  it("should refuse every bad range with the API's message, naming the field, and apply nothing", async () => {
    const queues = REFUSED.map(([, queue], index) => ({ ...HOOK, name: `q${index}`, ...queue }));
    const file = await topologyFile({ topics: [{ name: 'orders', kind: 'FANOUT', queues }] });
    const engine = await newEngine();
    const error = await topologyError(applyTopology(engine, file));
    const api = await newEngine();
    const expected: string[] = [];
    for (const [index, [field, queue]] of REFUSED.entries()) {
      const refused = await apiRefusal(api, { ...queue, name: `q${index}` });
      expect(refused.details.field, `the API's field for ${JSON.stringify(queue)}`).toBe(field);
      expected.push(`topics[0] (orders).queues[${index}] (q${index}).${field}: ${refused.message}`);
    }
    expect(error.problems).toEqual(expected);
    expect(await engine.topics()).toEqual([]);
  });

  it('should report a range of the wrong type once, as a type', async () => {
    const engine = await newEngine();
    const file = await topologyFile(ranged({ minConcurrency: '2', maxConcurrency: 4 }));
    const error = await topologyError(applyTopology(engine, file));
    expect(error.problems).toEqual([
      'topics[0] (orders).queues[0] (hook).minConcurrency: expected an integer, got "2"',
    ]);
  });

  it('should refuse a concurrency outside the range Redis keeps before applying anything', async () => {
    const engine = await newEngine();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({
      ...HOOK,
      target: 'WEBHOOK',
      topic: 'orders',
      minConcurrency: 2,
      maxConcurrency: 4,
    });
    const before = await engine.queue('orders', 'hook');
    // A new topic first in the file: it must not be created either.
    const file = await topologyFile({
      topics: [
        { name: 'alerts', kind: 'FANOUT', queues: [] },
        { name: 'orders', kind: 'FANOUT', queues: [{ ...HOOK, concurrency: 9 }] },
      ],
    });
    const error = await topologyError(applyTopology(engine, file));
    expect(error.problems).toEqual([
      'topics[1] (orders).queues[0] (hook).concurrency: concurrency (9) must lie within minConcurrency..maxConcurrency (2..4)',
    ]);
    expect(await engine.topic('alerts')).toBeNull();
    expect(await engine.queue('orders', 'hook')).toEqual(before);
    // Within the range it applies, and the range stays.
    const inside = await topologyFile({
      topics: [{ name: 'orders', kind: 'FANOUT', queues: [{ ...HOOK, concurrency: 3 }] }],
    });
    expect((await applyTopology(engine, inside)).updatedQueues).toEqual(['orders/hook']);
    expect(await engine.queue('orders', 'hook')).toMatchObject({
      concurrency: 3,
      minConcurrency: 2,
      maxConcurrency: 4,
    });
  });
});
