import type { Socket } from 'node:net';
import { redisProxy } from './redis-proxy.js';

/**
 * A TCP proxy in front of a Redis that can hold back what Redis sends to subscriber
 * connections (those that sent a SUBSCRIBE): an announcement published meanwhile reaches them only on
 * `release`, which models a registry announcement still on its way to another instance.
 */
export async function pubSubHoldingProxy(redisPort: number) {
  const held = new Map<Socket, Buffer[]>();
  const subscribers = new WeakSet<Socket>();
  let holding = false;
  const proxy = await redisProxy(redisPort, {
    fromClient(chunk, { client, upstream }) {
      if (chunk.toString('latin1').toLowerCase().includes('subscribe')) subscribers.add(client);
      upstream.write(chunk);
    },
    fromRedis(chunk, { client }) {
      const queue = held.get(client);
      if (queue || (holding && subscribers.has(client))) {
        held.set(client, [...(queue ?? []), chunk]);
        return;
      }
      client.write(chunk);
    },
  });
  return {
    ...proxy,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const [client, chunks] of held) for (const chunk of chunks) client.write(chunk);
      held.clear();
    },
  };
}

export type PubSubHoldingProxy = Awaited<ReturnType<typeof pubSubHoldingProxy>>;
