import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import type { Parts } from './parts.js';

/** How often deleteQueue looks again whether other instances' workers on the queue have stopped. */
const POLL_MS = 50;

export interface DeleteQueueSettings {
  /** How long to wait for other instances' workers on the queue (ENGINE_DEFAULTS.queueDeleteWaitMs). */
  waitMs: number;
  onError: (error: Error) => void;
}

/**
 * The workers connected to the queue, by BullMQ's `Queue.getWorkers()`: the CLIENT LIST entries named
 * for it, one per running worker's blocking connection (webhook workers stay listed until their
 * deliveries under way are settled, queues/delivery/settling-worker.ts). A killed process's
 * connections are gone from the list as soon as Redis sees its sockets close.
 */
async function connectedWorkers(queue: Queue): Promise<number> {
  const workers = await queue.getWorkers();
  // Where CLIENT LIST is refused (some hosted Redis), BullMQ answers one placeholder without a
  // rawname: nothing can be told, so nothing is waited for.
  return workers.filter((worker) => worker.rawname !== undefined).length;
}

/**
 * Waits, at most `waitMs`, until no worker is connected to the queue; answers how many still are.
 * Polled, because Redis announces no client disconnects.
 */
export async function waitForWorkersToStop(queue: Queue, waitMs: number): Promise<number> {
  const deadline = Date.now() + waitMs;
  for (let polls = Math.ceil(waitMs / POLL_MS) + 1; ; polls--) {
    const connected = await connectedWorkers(queue);
    if (connected === 0 || polls <= 0 || Date.now() >= deadline) return connected;
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
}

/**
 * Deletes a queue: out of the registry (every instance hears it and stops its workers on it), then,
 * once those workers have stopped, every key of it. Deleting a queue drops its messages, as in AMQP;
 * what it still held undelivered is counted (dead letters were counted as such already).
 */
export async function deleteQueue(
  parts: Parts,
  reconcile: () => Promise<void>,
  settings: DeleteQueueSettings,
  topic: string,
  name: string,
): Promise<void> {
  const queue = await parts.registry.deleteQueue(topic, name);
  await reconcile();
  await parts.consumers.drop(topic, name);
  const bullQueue = parts.bullQueue(queue);
  // Other instances' workers stop when they hear the registry's announcement, after the deliveries
  // they have under way; obliterating before that leaves them finishing jobs whose keys are gone
  // ("Missing key ... moveToFinished"), and a delivery made but never recorded counted as lost.
  const stillConnected = await waitForWorkersToStop(bullQueue, settings.waitMs);
  if (stillConnected > 0) {
    settings.onError(
      new Error(
        `deleteQueue ${topic}/${name}: ${stillConnected} worker(s) of other instances still connected ` +
          `after ${settings.waitMs} ms; the queue's keys were removed anyway`,
      ),
    );
  }
  const held = await bullQueue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'paused');
  await bullQueue.obliterate({ force: true });
  // Obliterate leaves BullMQ's rate-limit key, which the circuit breaker may have set for a cool-down.
  await parts.client.del(parts.keys.bull(topic, name).limiter);
  parts.losses.count(
    topic,
    name,
    'queue_deleted',
    Object.values(held).reduce((sum, n) => sum + n, 0),
  );
  await parts.deadLetters.dropQueue(topic, name);
  await parts.ordering.drop(topic, name);
  await parts.circuit.drop(topic, name);
  await parts.handles.drop(topic, name);
}
