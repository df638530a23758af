import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: string;
  /** When the body was read. */
  at: number;
  /** When the request reached the server (its headers), and the client's port: who sent it. */
  startedAt: number;
  remotePort: number | null;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Decides the answer to the n-th request (0-based); the default answers 204. */
  respond: (
    index: number,
    request: ReceivedRequest,
  ) => { status: number; headers?: Record<string, string>; body?: string; delayMs?: number };
  close(): Promise<void>;
}

export interface ReceiverOptions {
  /**
   * How long the server keeps an idle connection. undici reuses a connection only while the server's
   * advertised keep-alive exceeds its own 2 s safety margin, so at 1 s (the default, as before) every
   * request opens a connection of its own; a test of thousands of deliveries wants 5 s (Node's own
   * default), where the gateway's pooled connections are reused as with most real endpoints.
   * @default 1000
   */
  keepAliveTimeoutMs?: number;
}

/** A real HTTP webhook target on loopback that records every request it gets. */
export async function startReceiver(options: ReceiverOptions = {}): Promise<Receiver> {
  const receiver: Receiver = {
    url: '',
    requests: [],
    respond: () => ({ status: 204 }),
    close: async () => {},
  };
  // Slow answers still pending at close would otherwise fire into closed sockets after the test.
  const pending = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const startedAt = Date.now();
    const remotePort = req.socket.remotePort ?? null;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
        startedAt,
        remotePort,
      };
      const index = receiver.requests.length;
      receiver.requests.push(request);
      const answer = receiver.respond(index, request);
      const send = () => {
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      };
      if (!answer.delayMs) return send();
      const timer = setTimeout(() => {
        pending.delete(timer);
        send();
      }, answer.delayMs);
      pending.add(timer);
    });
  });
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

/** One request header as a single string ('' when absent), for signature checks and assertions. */
export function headerOf(request: ReceivedRequest, name: string): string {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}
