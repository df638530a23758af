/**
 * One client process of `npm run bench:subscribers` (`--client-processes=K`: K of these, each holding
 * its share of the subscribers). graphql-transport-ws is spoken by hand over `ws`, the lightest client
 * there is, so the clients cost as little of the machine as they can. Each counts, per subscriber,
 * which measured messages arrived, and keeps its latencies as a histogram (bench/latency-histogram.ts)
 * so that only a few kilobytes cross IPC however many deliveries there were.
 */
import WebSocket from 'ws';
import { emptyHistogram, type Histogram, record } from './latency-histogram.js';
import { nowUs } from './payload.js';
import { serveRpc } from './rpc.js';

const QUERY = 'subscription { messages(topic: "ticker") { id payload publishedAt droppedBefore } }';
/** How long one socket may take from connect to connection_ack before the run counts as failed. */
const CONNECT_TIMEOUT_MS = 60_000;

interface Subscriber {
  socket: WebSocket;
  /** Measured messages received, by sequence number (each must arrive once). */
  seen: Uint8Array;
  warm: boolean;
  received: number;
  /** Messages the gateway dropped for this subscriber because it fell behind (Message.droppedBefore). */
  dropped: number;
}

interface Frame {
  type: string;
  payload?: {
    data?: {
      messages?: {
        publishedAt?: string;
        droppedBefore?: number;
        payload?: { seq: number; sentAtUs: number };
      };
    };
  };
}

const state = {
  subscribers: [] as Subscriber[],
  messages: 0,
  /** From the publish call (the payload's send time, machine-wide monotonic clock) to receipt. */
  fromCall: emptyHistogram(),
  /** From the message's publishedAt (stamped by the gateway before storing it) to receipt. */
  fromStored: emptyHistogram(),
  /** Monotonic µs of the last measured receipt. */
  lastAtUs: 0,
  duplicates: 0,
  /** Sockets the server closed before the bench did. */
  closedEarly: 0,
  closing: false,
};

function onFrame(subscriber: Subscriber, frame: Frame): void {
  if (frame.type !== 'next') return;
  const received = frame.payload?.data?.messages;
  const body = received?.payload;
  if (!body) return;
  if (body.seq < 0) {
    subscriber.warm = true;
    return;
  }
  const atUs = nowUs();
  const atMs = Date.now();
  subscriber.dropped += received.droppedBefore ?? 0;
  state.lastAtUs = atUs;
  if (body.seq >= state.messages) return;
  if (subscriber.seen[body.seq] === 1) {
    state.duplicates++;
    return;
  }
  subscriber.seen[body.seq] = 1;
  subscriber.received++;
  record(state.fromCall, (atUs - body.sentAtUs) / 1000);
  record(state.fromStored, atMs - Date.parse(received.publishedAt ?? ''));
}

function openSubscriber(url: string): Promise<Subscriber> {
  return new Promise<Subscriber>((resolve, reject) => {
    const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const subscriber: Subscriber = {
      socket,
      seen: new Uint8Array(state.messages),
      warm: false,
      received: 0,
      dropped: 0,
    };
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no connection_ack within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    socket.on('open', () => socket.send('{"type":"connection_init"}'));
    socket.on('close', () => {
      if (!state.closing) state.closedEarly++;
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      if (frame.type === 'connection_ack') {
        clearTimeout(timer);
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: QUERY } }));
        resolve(subscriber);
      } else if (frame.type === 'ping') socket.send('{"type":"pong"}');
      else onFrame(subscriber, frame);
    });
  });
}

export interface ConnectArgs {
  url: string;
  count: number;
  /** Measured messages, numbered 0 to messages - 1. */
  messages: number;
  /** Sockets opened at once, so the server's accept queue never overflows. */
  batch: number;
}

export interface ClientResults {
  subscribers: number;
  delivered: number;
  /** Subscribers that got every measured message. */
  complete: number;
  dropped: number;
  duplicates: number;
  closedEarly: number;
  lastAtUs: number;
  fromCall: Histogram;
  fromStored: Histogram;
  /** This process's own CPU over the measurement, in seconds. */
  cpuSeconds: number;
}

let cpuAtStart = process.cpuUsage();
const settled = (subscriber: Subscriber) => subscriber.received + subscriber.dropped >= state.messages;

const api = {
  /** Opens `count` subscribers in batches; answers how many are connected and subscribed. */
  async connect(args: ConnectArgs): Promise<number> {
    state.messages = args.messages;
    for (let offset = 0; offset < args.count; offset += args.batch) {
      const batch = Math.min(args.batch, args.count - offset);
      state.subscribers.push(
        ...(await Promise.all(Array.from({ length: batch }, () => openSubscriber(args.url)))),
      );
    }
    return state.subscribers.length;
  },
  /** Subscribers that have had a warm-up message. */
  warm: async () => state.subscribers.filter((subscriber) => subscriber.warm).length,
  /** Forgets the warm-up's drops and starts the CPU clock: the measurement starts now. */
  async startMeasuring(): Promise<void> {
    for (const subscriber of state.subscribers) subscriber.dropped = 0;
    cpuAtStart = process.cpuUsage();
  },
  /** Subscribers that have every measured message, or word of its loss. */
  settled: async () => state.subscribers.filter(settled).length,
  async results(): Promise<ClientResults> {
    const cpu = process.cpuUsage(cpuAtStart);
    const sum = (pick: (subscriber: Subscriber) => number) =>
      state.subscribers.reduce((total, subscriber) => total + pick(subscriber), 0);
    return {
      subscribers: state.subscribers.length,
      delivered: sum((subscriber) => subscriber.received),
      complete: state.subscribers.filter((subscriber) => subscriber.received === state.messages).length,
      dropped: sum((subscriber) => subscriber.dropped),
      duplicates: state.duplicates,
      closedEarly: state.closedEarly,
      lastAtUs: state.lastAtUs,
      fromCall: state.fromCall,
      fromStored: state.fromStored,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  },
};
export type SubscriberClientsApi = typeof api;

serveRpc(api, async () => {
  state.closing = true;
  for (const subscriber of state.subscribers) subscriber.socket.terminate();
});
