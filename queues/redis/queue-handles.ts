import { Queue } from 'bullmq';
import type { RedisClient } from './connection.js';
import type { Keys } from './keys.js';

/**
 * One BullMQ `Queue` per Switchyard queue, created on first use and all sharing the engine's
 * commands connection (BullMQ loads its Lua commands on it once).
 *
 * A handle writes nothing when it opens (`skipMetasUpdate`): BullMQ would otherwise write the queue's
 * meta hash, and a handle is opened lazily, perhaps for a queue another instance has just deleted
 * (this one not having heard yet), which would leave a key of it behind for BullMQ tools to take for
 * a queue. The meta is written once instead, by `writeMeta` when the queue is created.
 */
export function createQueueHandles(client: RedisClient, keys: Keys) {
  const handles = new Map<string, Queue>();
  const id = (topic: string, name: string) => `${topic}\u0000${name}`;

  function get(topic: string, name: string): Queue {
    const key = id(topic, name);
    let queue = handles.get(key);
    if (!queue) {
      queue = new Queue(name, { connection: client, prefix: keys.bullPrefix(topic), skipMetasUpdate: true });
      // Errors surface on the calls that hit them; the emitter must not crash the process meanwhile.
      queue.on('error', () => {});
      handles.set(key, queue);
    }
    return queue;
  }

  return {
    get,
    /**
     * Writes the meta BullMQ keeps of a queue (its library version, the events stream's length), what
     * its `Queue` would have written on opening; for a queue just created. Whatever the hash held is an
     * earlier queue's of that name (a race with its deletion can leave one, docs/SCALING.md): a
     * `paused` field kept from it would leave the new queue's jobs in BullMQ's paused list.
     */
    async writeMeta(topic: string, name: string): Promise<void> {
      const meta = keys.bull(topic, name).meta;
      await client.multi().del(meta).hset(meta, get(topic, name).metaValues).exec();
    },
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
