import { Queue } from 'bullmq';
import type { RedisClient } from './connection.js';
import type { Keys } from './keys.js';

/**
 * One BullMQ `Queue` per Switchyard queue, created on first use and all sharing the engine's
 * commands connection (BullMQ loads its Lua commands on it once).
 */
export function createQueueHandles(client: RedisClient, keys: Keys) {
  const handles = new Map<string, Queue>();
  const id = (topic: string, name: string) => `${topic}\u0000${name}`;

  function get(topic: string, name: string): Queue {
    const key = id(topic, name);
    let queue = handles.get(key);
    if (!queue) {
      queue = new Queue(name, { connection: client, prefix: keys.bullPrefix(topic) });
      // Errors surface on the calls that hit them; the emitter must not crash the process meanwhile.
      queue.on('error', () => {});
      handles.set(key, queue);
    }
    return queue;
  }

  return {
    get,
    async drop(topic: string, name: string): Promise<void> {
      const queue = handles.get(id(topic, name));
      handles.delete(id(topic, name));
      await queue?.close();
    },
    async close(): Promise<void> {
      const all = [...handles.values()];
      handles.clear();
      await Promise.allSettled(all.map((queue) => queue.close()));
    },
  };
}

export type QueueHandles = ReturnType<typeof createQueueHandles>;
