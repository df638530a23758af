import type { AddressInfo } from 'node:net';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a Redis that can hold back what Redis sends to subscriber
 * connections (those that sent a SUBSCRIBE): an announcement published meanwhile reaches them only on
 * `release`, which models a registry announcement still on its way to another instance.
 */
export async function pubSubHoldingProxy(redisPort: number) {
  const sockets = new Set<Socket>();
  const held = new Map<Socket, Buffer[]>();
  let holding = false;
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: redisPort });
    sockets.add(client).add(upstream);
    let subscriber = false;
    client.on('data', (chunk: Buffer) => {
      if (chunk.toString('latin1').toLowerCase().includes('subscribe')) subscriber = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      const queue = held.get(client);
      if (queue || (holding && subscriber)) {
        held.set(client, [...(queue ?? []), chunk]);
        return;
      }
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const [client, chunks] of held) for (const chunk of chunks) client.write(chunk);
      held.clear();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type PubSubHoldingProxy = Awaited<ReturnType<typeof pubSubHoldingProxy>>;
