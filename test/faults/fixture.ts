/**
 * The common stage of the fault scenarios: one Redis (AOF, fsync always), N gateways from dist/ on it,
 * a FANOUT topic with a WEBHOOK queue (to a real receiver) and a CONSUMER queue, and a Redis client to
 * read the queues' state directly.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { gqlOk } from './client.js';
import { type QueueState, queueState } from './ledger.js';
import {
  ensureBuilt,
  type FaultRedis,
  type GatewayProcess,
  startFaultRedis,
  startGateway,
} from './processes.js';

export const TOPIC = 'faults';
export const HOOK_QUEUE = 'hook';
export const WORK_QUEUE = 'work';

export interface FixtureOptions {
  gateways: number;
  /** Extra env for every gateway. */
  env?: Record<string, string>;
  /** The CONSUMER queue's visibility timeout. */
  consumerAckTimeoutMs?: number;
  /** The WEBHOOK queue's request timeout. */
  webhookAckTimeoutMs?: number;
}

export interface Fixture {
  redis: FaultRedis;
  gateways: GatewayProcess[];
  receiver: Receiver;
  /** A client that rides out Redis restarts (reconnects, retries). */
  admin: Redis;
  prefix: string;
  hook: QueueState;
  work: QueueState;
  close(): Promise<void>;
}

export async function startFixture(options: FixtureOptions): Promise<Fixture> {
  await ensureBuilt();
  const prefix = `f${randomUUID().slice(0, 8)}`;
  const redis = await startFaultRedis();
  const receiver = await startReceiver();
  const gateways: GatewayProcess[] = [];
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 20, retryStrategy: () => 100 });
  admin.on('error', () => {});
  const close = async () => {
    await Promise.allSettled(gateways.map((gateway) => gateway.close()));
    admin.disconnect();
    await receiver.close();
    await redis.close();
  };
  try {
    for (let i = 0; i < options.gateways; i++) {
      gateways.push(
        await startGateway({
          name: String.fromCharCode(65 + i),
          redisUrl: redis.url,
          env: { SWITCHYARD_PREFIX: prefix, ...options.env },
        }),
      );
    }
    const first = gateways[0];
    if (!first) throw new Error('a fixture needs a gateway');
    await gqlOk(first.url, `mutation { createTopic(input: { name: "${TOPIC}", kind: FANOUT }) { name } }`);
    // Quick retries, many attempts: a fault must never turn a delivery into a dead letter by itself.
    const retry = '{ maxAttempts: 20, backoff: FIXED, delayMs: 200, jitter: false }';
    await gqlOk(
      first.url,
      `mutation ($url: String!) { createQueue(input: { topic: "${TOPIC}", name: "${HOOK_QUEUE}", target: WEBHOOK, url: $url, retry: ${retry}, ackTimeoutMs: ${options.webhookAckTimeoutMs ?? 10_000} }) { name } }`,
      { url: receiver.url },
    );
    await gqlOk(
      first.url,
      `mutation { createQueue(input: { topic: "${TOPIC}", name: "${WORK_QUEUE}", target: CONSUMER, retry: ${retry}, ackTimeoutMs: ${options.consumerAckTimeoutMs ?? 5_000} }) { name } }`,
    );
    await Promise.all(gateways.map(waitForWorkers));
    return {
      redis,
      gateways,
      receiver,
      admin,
      prefix,
      hook: queueState(admin, prefix, TOPIC, HOOK_QUEUE),
      work: queueState(admin, prefix, TOPIC, WORK_QUEUE),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Until /health reports the WEBHOOK queue's worker running on this gateway. */
export async function waitForWorkers(gateway: GatewayProcess): Promise<void> {
  const base = gateway.url.replace(/\/graphql$/, '');
  const deadline = Date.now() + 15_000;
  for (;;) {
    const workers = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2_000) })
      .then(async (response) => ((await response.json()) as { workers?: number }).workers ?? 0)
      .catch(() => 0);
    if (workers >= 1) return;
    if (Date.now() > deadline) throw new Error(`gateway ${gateway.name} never started its webhook worker`);
    await sleep(50);
  }
}

/** mulberry32: a seeded generator, so a failing run's kill moments can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Resident set size of a process in bytes, from /proc (0 when it is gone). */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match?.[1] ? Number(match[1]) * 1024 : 0;
}
