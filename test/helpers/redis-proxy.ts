import type { AddressInfo } from 'node:net';
import { createConnection, createServer, type Socket } from 'node:net';

/** One proxied connection: the client's socket and the one to Redis. */
export interface ProxiedConnection {
  client: Socket;
  upstream: Socket;
}

/** What a proxy does with each connection's traffic; by default it passes both ways. */
export interface ProxyRules {
  /** False: the new connection is closed at once. */
  accept?: () => boolean;
  /** What the client sent; forward it with `upstream.write`. */
  fromClient?: (chunk: Buffer, connection: ProxiedConnection) => void;
  /** What Redis answered; forward it with `client.write`. */
  fromRedis?: (chunk: Buffer, connection: ProxiedConnection) => void;
}

/**
 * A TCP proxy on loopback in front of a Redis, for tests that need to tamper with the traffic of a
 * real client (hold announcements back, lose an answer): either side closing closes both.
 */
export async function redisProxy(redisPort: number, rules: ProxyRules) {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    if (rules.accept && !rules.accept()) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: redisPort });
    sockets.add(client).add(upstream);
    const connection = { client, upstream };
    client.on('data', (chunk: Buffer) =>
      rules.fromClient ? rules.fromClient(chunk, connection) : upstream.write(chunk),
    );
    upstream.on('data', (chunk: Buffer) =>
      rules.fromRedis ? rules.fromRedis(chunk, connection) : client.write(chunk),
    );
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
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
