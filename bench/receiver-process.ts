/**
 * The webhook receiver, in a process of its own: answers 204 (or 500 to the first attempt of each
 * message when failing first attempts), counts what it delivered, and measures publish-to-receiver
 * latency from the send time in the payload.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nowUs, payloadOf } from './payload.js';
import { serveRpc } from './rpc.js';

export interface ReceiverMode {
  /** Answer 500 to the first request for each message (by its payload's seq), 204 to later ones. */
  failFirst: boolean;
  /** Parse each body and keep its latency (measured messages only, not warm-up ones). */
  latency: boolean;
  /** Answer 200 with a small JSON body, the reply to a request (scenario 9), instead of 204. */
  reply?: boolean;
}

export interface ReceiverStats {
  /** Requests answered 2xx since the last reset. */
  delivered: number;
  /** Requests answered 500 on purpose since the last reset. */
  refused: number;
  /** Latencies in µs of measured (non warm-up) messages, when asked for. */
  latenciesUs: number[];
}

/** The receiver keeps at most this many latencies (10 s at 2,000/s is 20,000). */
const MAX_LATENCIES = 200_000;

/** What the receiver answers a request with in reply mode. */
const REPLY = JSON.stringify({ ok: true });

let mode: ReceiverMode = { failFirst: false, latency: false };
let delivered = 0;
let refused = 0;
let seen = new Set<number>();
let latencies: number[] = [];

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    if (!mode.failFirst && !mode.latency) {
      delivered++;
      if (mode.reply) res.writeHead(200, { 'content-type': 'application/json' }).end(REPLY);
      else res.writeHead(204).end();
      return;
    }
    const arrivedUs = nowUs();
    let payload: ReturnType<typeof payloadOf>;
    try {
      payload = payloadOf(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch {
      res.writeHead(400).end('body is not JSON');
      return;
    }
    if (mode.failFirst && typeof payload.seq === 'number' && !seen.has(payload.seq)) {
      seen.add(payload.seq);
      refused++;
      res.writeHead(500).end('first attempt fails on purpose');
      return;
    }
    delivered++;
    if (mode.latency && payload.warm === false && typeof payload.sentAtUs === 'number') {
      if (latencies.length < MAX_LATENCIES) latencies.push(arrivedUs - payload.sentAtUs);
    }
    res.writeHead(204).end();
  });
});
// Longer than any pause between rounds, so pooled connections of the senders stay usable.
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.maxRequestsPerSocket = 0;

await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

const api = {
  url: async () => url,
  reset: async (next: ReceiverMode) => {
    mode = next;
    delivered = 0;
    refused = 0;
    seen = new Set();
    latencies = [];
  },
  stats: async (withLatencies: boolean): Promise<ReceiverStats> => ({
    delivered,
    refused,
    latenciesUs: withLatencies ? latencies : [],
  }),
};
export type ReceiverApi = typeof api;

serveRpc(
  api,
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);
