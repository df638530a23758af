/**
 * Fault 4 (issue 19): a Redis that refuses writes. Out of memory (maxmemory reached, noeviction), Redis
 * fails a command that would grow it; a read-only replica fails every write. Publishes and admin
 * mutations must answer a clear code, and nothing may be half-written: no queue holds part of a
 * fan-out, no idempotency key stays claimed, nothing is counted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { type Answer, codeOf, gql, gqlOk } from './client.js';
import {
  ensureBuilt,
  type FaultRedis,
  freePort,
  type GatewayProcess,
  startFaultRedis,
  startGateway,
} from './processes.js';

const QUEUES = ['a', 'b', 'c'];
const PUBLISH = 'mutation ($input: PublishInput!) { publish(input: $input) { messageId duplicate } }';
const BATCH = 'mutation ($inputs: [PublishInput!]!) { publishBatch(inputs: $inputs) { messageId } }';

const closing: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close().catch(() => {});
});

async function fanOutGateway(redis: FaultRedis): Promise<GatewayProcess> {
  const gateway = await startGateway({ name: 'refusing', redisUrl: redis.url });
  closing.push(() => gateway.close());
  await gqlOk(gateway.url, 'mutation { createTopic(input: { name: "fan", kind: FANOUT }) { name } }');
  for (const name of QUEUES) {
    await gqlOk(
      gateway.url,
      `mutation { createQueue(input: { topic: "fan", name: "${name}", target: CONSUMER }) { name } }`,
    );
  }
  return gateway;
}

/** What every refused call answered: its code, and whether it answered at all. */
async function refusedCalls(url: string): Promise<Record<string, string | null>> {
  const calls: Record<string, Promise<Answer>> = {
    publish: gql(url, PUBLISH, { input: { topic: 'fan', payload: 1, idempotencyKey: 'refused-key' } }),
    publishBatch: gql(url, BATCH, {
      inputs: [1, 2, 3].map((n) => ({ topic: 'fan', payload: n, idempotencyKey: `batch-${n}` })),
    }),
    createTopic: gql(url, 'mutation { createTopic(input: { name: "other", kind: FANOUT }) { name } }'),
    createQueue: gql(
      url,
      'mutation { createQueue(input: { topic: "fan", name: "d", target: CONSUMER }) { name } }',
    ),
    createApiKey: gql(url, 'mutation { createApiKey(name: "k", scopes: ["stats"]) { id } }'),
  };
  const codes: Record<string, string | null> = {};
  for (const [name, call] of Object.entries(calls)) codes[name] = codeOf(await call);
  return codes;
}

/** Nothing of the refused calls anywhere: no job, no count, no claimed key, no new topic or queue. */
async function expectNothingWritten(url: string): Promise<void> {
  const { topic } = (await gqlOk(
    url,
    '{ topic(name: "fan") { stats { published } queues { name stats { waiting delayed active } } } }',
  )) as {
    topic: { stats: { published: number }; queues: { name: string; stats: Record<string, number> }[] };
  };
  expect(topic.stats.published).toBe(0);
  expect(topic.queues.map((queue) => queue.name)).toEqual(QUEUES);
  for (const queue of topic.queues)
    expect(queue.stats, queue.name).toEqual({ waiting: 0, delayed: 0, active: 0 });
  expect(await gqlOk(url, '{ topic(name: "other") { name } }')).toEqual({ topic: null });
  // The keys were not kept: the same publish now is a fresh one, stored in every queue.
  const again = (await gqlOk(url, PUBLISH, {
    input: { topic: 'fan', payload: 1, idempotencyKey: 'refused-key' },
  })) as { publish: { duplicate: boolean } };
  expect(again.publish.duplicate).toBe(false);
}

describe('fault: Redis refusing writes', () => {
  it('should answer UNAVAILABLE while Redis is out of memory, and write nothing of any call', async () => {
    await ensureBuilt();
    const redis = await startFaultRedis();
    closing.push(() => redis.close());
    const gateway = await fanOutGateway(redis);
    const admin = new Redis(redis.url);
    closing.push(async () => admin.disconnect());

    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');
    const codes = await refusedCalls(gateway.url);
    await admin.config('SET', 'maxmemory', '0');

    console.log(`out of memory: ${JSON.stringify(codes)}`);
    expect(codes).toEqual({
      publish: 'UNAVAILABLE',
      publishBatch: 'UNAVAILABLE',
      createTopic: 'UNAVAILABLE',
      createQueue: 'UNAVAILABLE',
      createApiKey: 'UNAVAILABLE',
    });
    await expectNothingWritten(gateway.url);
  }, 120_000);

  it('should answer UNAVAILABLE on a read-only replica, and write nothing', async () => {
    await ensureBuilt();
    const primary = await startFaultRedis();
    closing.push(() => primary.close());
    const gateway = await fanOutGateway(primary);
    const replica = await startReplica(new URL(primary.url).port);
    closing.push(() => replica.close());
    // The same data, read-only: a gateway on the replica sees the topology and may write nothing.
    const onReplica = await startGateway({ name: 'replica', redisUrl: replica.url, waitHealthy: false });
    closing.push(() => onReplica.close());

    const codes = await refusedCalls(onReplica.url);

    console.log(`read-only replica: ${JSON.stringify(codes)}`);
    expect(codes).toEqual({
      publish: 'UNAVAILABLE',
      publishBatch: 'UNAVAILABLE',
      createTopic: 'UNAVAILABLE',
      createQueue: 'UNAVAILABLE',
      createApiKey: 'UNAVAILABLE',
    });
    await expectNothingWritten(gateway.url);
  }, 120_000);
});

/** A redis-server replicating `primaryPort`, read-only (as replicas are by default), in sync. */
async function startReplica(primaryPort: string): Promise<{ url: string; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-faults-replica-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  // Not lazy: it keeps trying while the new server starts listening.
  const client = new Redis(url, { retryStrategy: () => 100, maxRetriesPerRequest: null });
  client.on('error', () => {});
  const close = async () => {
    client.disconnect();
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 20_000;
    await client.replicaof('127.0.0.1', primaryPort);
    while (!/master_link_status:up/.test(await client.info('replication'))) {
      if (Date.now() > deadline) throw new Error('the replica never synced');
      await sleep(100);
    }
    return { url, close };
  } catch (error) {
    await close();
    throw error;
  }
}
