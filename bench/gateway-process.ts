/**
 * The gateway under test, in a process of its own so that its CPU and RSS can be read by pid. The
 * harness passes REDIS_URL and a key prefix per scenario in the environment; everything else is the
 * configuration a deployment would run with.
 */

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TopicKind } from '../queues/core/index.js';
import type { CreateQueueInput, CreateTopicInput } from '../queues/registry/index.js';
import { type SamplingHeapProfile, startAllocationSampling } from './alloc-sampling.js';
import { importBuiltGateway } from './built-gateway.js';
import { serveRpc } from './rpc.js';

export interface TopologyArgs {
  topic: string;
  kind: TopicKind;
  queues: readonly Omit<CreateQueueInput, 'topic'>[];
  /** The topic's history settings (docs/HISTORY.md); none: no history. */
  history?: CreateTopicInput['history'];
}

/** How long a new WEBHOOK queue may take to get its worker. */
const WORKER_START_TIMEOUT_MS = 10_000;

const { createGateway, loadConfig } = await importBuiltGateway();
const gateway = await createGateway(loadConfig(process.env));
const { url } = await gateway.start();
const { engine } = gateway;

/**
 * `npm run bench -- --profile=alloc`: each topology's life, from created to deleted, is sampled, and
 * its profile written to this folder with the count of messages published to it.
 */
const ALLOC_PROFILE_DIR = process.env.BENCH_ALLOC_PROFILE_DIR ?? null;
const sampling = new Map<string, Promise<{ stop(): Promise<SamplingHeapProfile> }>>();

/** Stops sampling the topic's life and writes `<topic>.heapprofile` and `<topic>.json` (its messages). */
async function writeAllocations(topic: string): Promise<void> {
  const started = sampling.get(topic);
  if (!ALLOC_PROFILE_DIR || !started) return;
  sampling.delete(topic);
  const profile = await (await started).stop();
  const { published } = await engine.topicStats(topic);
  await writeFile(join(ALLOC_PROFILE_DIR, `${topic}.heapprofile`), JSON.stringify(profile));
  await writeFile(join(ALLOC_PROFILE_DIR, `${topic}.json`), JSON.stringify({ topic, published }));
}

const api = {
  url: async () => url,
  /** Creates a topic and its queues and waits until every WEBHOOK queue has its worker. */
  async createTopology(args: TopologyArgs): Promise<void> {
    const before = engine.webhookWorkers;
    await engine.createTopic({ name: args.topic, kind: args.kind, history: args.history ?? null });
    for (const queue of args.queues) await engine.createQueue({ ...queue, topic: args.topic });
    const expected = before + args.queues.filter((queue) => queue.target === 'WEBHOOK').length;
    const deadline = Date.now() + WORKER_START_TIMEOUT_MS;
    while (engine.webhookWorkers < expected) {
      if (Date.now() > deadline)
        throw new Error(`webhook workers did not start within ${WORKER_START_TIMEOUT_MS} ms`);
      await sleep(10);
    }
    if (ALLOC_PROFILE_DIR) sampling.set(args.topic, startAllocationSampling());
  },
  /** This instance's webhook workers, one per WEBHOOK queue it delivers for. */
  webhookWorkers: async () => engine.webhookWorkers,
  /**
   * Waits until this instance has exactly `count` webhook workers: a topology another instance created
   * or deleted reaches this one over the registry channel, and its workers follow.
   */
  async awaitWebhookWorkers(count: number): Promise<void> {
    const deadline = Date.now() + WORKER_START_TIMEOUT_MS;
    while (engine.webhookWorkers !== count) {
      if (Date.now() > deadline) {
        throw new Error(
          `${engine.webhookWorkers} webhook workers, not ${count}, after ${WORKER_START_TIMEOUT_MS} ms`,
        );
      }
      await sleep(10);
    }
  },
  /**
   * Waits until no job of the topic's queues is active: the receiver counts a delivery at its 2xx,
   * before the worker's completion reaches Redis, and deleting a queue under another instance's
   * completions makes them fail (BullMQ's "Missing key for job").
   */
  async awaitIdle(topic: string): Promise<void> {
    const deadline = Date.now() + WORKER_START_TIMEOUT_MS;
    for (const queue of await engine.queues(topic)) {
      while ((await engine.queueStats(queue)).active > 0 && Date.now() < deadline) await sleep(10);
    }
  },
  /** Deletes a topic and its queues with their messages, so the next round starts from nothing. */
  async deleteTopology(topic: string): Promise<void> {
    await writeAllocations(topic);
    for (const queue of await engine.queues(topic)) await engine.deleteQueue(topic, queue.name);
    await engine.deleteTopic(topic);
  },
};
export type GatewayApi = typeof api;

serveRpc(api, () => gateway.stop());
