/**
 * Fault 5: misbehaving webhook receivers. One WEBHOOK queue per behaviour (hang, reset before any
 * answer, reset mid-body, trickle, a 100 MB body, a garbage status line, a redirect to a private
 * address), one attempt each,
 * so every message becomes a dead letter whose reason and attempt duration say how it was classified
 * and how long it held a worker slot; the gateway's RSS is sampled throughout.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { gqlOk } from '../client.js';
import { rssOf } from '../fixture.js';
import { ensureBuilt, startFaultRedis, startGateway } from '../processes.js';

export const BEHAVIOURS = [
  'hang',
  'reset',
  'reset-mid-body',
  'trickle',
  'huge',
  'garbage',
  'redirect',
] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];

const HUGE_BYTES = 100 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

export interface ReceiversOptions {
  ackTimeoutMs: number;
  messagesPerQueue: number;
}

export interface BehaviourFigure {
  behaviour: Behaviour;
  /** Reason of each dead letter ('DELIVERED' for a message that was delivered). */
  outcomes: Record<string, number>;
  /** Longest attempt, as the attempt history records it. */
  maxAttemptMs: number | null;
  /** From the publish until the last message of this queue was settled. */
  settledMs: number | null;
  errors: string[];
}

export interface ReceiversResult {
  ackTimeoutMs: number;
  behaviours: BehaviourFigure[];
  rss: { beforeBytes: number; maxBytes: number; afterBytes: number };
  /** Bytes of the 100 MB answers the receiver managed to write (how far the gateway read). */
  hugeBytesWritten: number;
  seconds: number;
}

/** A raw TCP receiver, so it can misbehave below HTTP. Answers per path. */
async function startBadReceiver(): Promise<{
  port: number;
  hugeBytesWritten: () => number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let hugeBytes = 0;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const path = head.split(' ')[1] ?? '/';
      answer(path.slice(1) as Behaviour, socket);
    });
  });
  const every = (ms: number, tick: () => boolean) => {
    const timer = setInterval(() => {
      if (!tick()) {
        clearInterval(timer);
        timers.delete(timer);
      }
    }, ms);
    timers.add(timer);
  };
  function answer(behaviour: Behaviour, socket: Socket): void {
    switch (behaviour) {
      case 'hang':
        return; // never a byte
      case 'reset':
        socket.resetAndDestroy();
        return;
      case 'reset-mid-body':
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n{"partial":');
        socket.resetAndDestroy();
        return;
      case 'trickle':
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n');
        every(500, () => !socket.destroyed && socket.write('x') !== undefined);
        return;
      case 'huge': {
        socket.write(
          `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${HUGE_BYTES}\r\n\r\n`,
        );
        let left = HUGE_BYTES;
        const pump = () => {
          while (left > 0 && !socket.destroyed) {
            const part = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
            left -= part.length;
            hugeBytes += part.length;
            if (!socket.write(part)) return void socket.once('drain', pump);
          }
          socket.end();
        };
        pump();
        return;
      }
      case 'garbage':
        socket.end('HTTP/1.1 TWO-HUNDRED maybe\r\n\r\n');
        return;
      case 'redirect':
        socket.end('HTTP/1.1 302 Found\r\nlocation: http://10.0.0.1/internal\r\ncontent-length: 0\r\n\r\n');
        return;
    }
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    hugeBytesWritten: () => hugeBytes,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearInterval(timer);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface DeadLetterShape {
  queue: string;
  reason: string;
  error: string;
  history: Array<{ durationMs: number | null }>;
}

export async function runReceivers(options: ReceiversOptions): Promise<ReceiversResult> {
  const started = Date.now();
  await ensureBuilt();
  const redis = await startFaultRedis();
  const receiver = await startBadReceiver();
  const gateway = await startGateway({
    name: 'receivers',
    redisUrl: redis.url,
    // Each failure here is the message's own: no circuit breaker in the way of the classification.
    env: { SWITCHYARD_CIRCUIT_FAILURES: '0' },
  });
  let sampling = true;
  let maxRss = 0;
  const sampler = (async () => {
    while (sampling) {
      maxRss = Math.max(maxRss, await rssOf(gateway.pid));
      await sleep(100);
    }
  })();
  try {
    const url = gateway.url;
    await gqlOk(url, 'mutation { createTopic(input: { name: "bad", kind: FANOUT }) { name } }');
    for (const behaviour of BEHAVIOURS) {
      await gqlOk(
        url,
        `mutation ($url: String!) { createQueue(input: { topic: "bad", name: "${behaviour}", target: WEBHOOK, url: $url, concurrency: 1, ackTimeoutMs: ${options.ackTimeoutMs}, retry: { maxAttempts: 1 } }) { name } }`,
        { url: `http://127.0.0.1:${receiver.port}/${behaviour}` },
      );
    }
    await sleep(1_000);
    const rssBefore = await rssOf(gateway.pid);
    maxRss = rssBefore;
    const publishedAt = Date.now();
    for (let i = 0; i < options.messagesPerQueue; i++) {
      await gqlOk(url, `mutation { publish(input: { topic: "bad", payload: { i: ${i} } }) { messageId } }`);
    }
    const settledAt = new Map<Behaviour, number>();
    const letters = new Map<Behaviour, DeadLetterShape[]>();
    // One attempt each, at most ackTimeoutMs, one at a time per queue: all settle within this bound.
    const deadline = publishedAt + options.messagesPerQueue * (options.ackTimeoutMs + 5_000) + 10_000;
    while (settledAt.size < BEHAVIOURS.length && Date.now() < deadline) {
      const data = await gqlOk(
        url,
        'query { deadLetters(filter: { topic: "bad" }, first: 100) { edges { node { queue reason error history { durationMs } } } } }',
      );
      const all = (data.deadLetters as { edges: Array<{ node: DeadLetterShape }> }).edges.map(
        (edge) => edge.node,
      );
      for (const behaviour of BEHAVIOURS) {
        const mine = all.filter((letter) => letter.queue === behaviour);
        letters.set(behaviour, mine);
        if (settledAt.has(behaviour)) continue;
        const stats = await gqlOk(
          url,
          `query { queue(topic: "bad", name: "${behaviour}") { stats { waiting active delayed completed } } }`,
        );
        const queueStats = (
          stats.queue as { stats: { waiting: number; active: number; delayed: number; completed: number } }
        ).stats;
        const pending = queueStats.waiting + queueStats.active + queueStats.delayed;
        if (pending === 0 && mine.length + queueStats.completed >= options.messagesPerQueue) {
          settledAt.set(behaviour, Date.now());
        }
      }
      await sleep(250);
    }
    const behaviours: BehaviourFigure[] = [];
    for (const behaviour of BEHAVIOURS) {
      const mine = letters.get(behaviour) ?? [];
      const outcomes: Record<string, number> = {};
      for (const letter of mine) outcomes[letter.reason] = (outcomes[letter.reason] ?? 0) + 1;
      const delivered = options.messagesPerQueue - mine.length;
      if (delivered > 0 && settledAt.has(behaviour)) outcomes.DELIVERED = delivered;
      const durations = mine.flatMap((letter) => letter.history.map((attempt) => attempt.durationMs ?? 0));
      behaviours.push({
        behaviour,
        outcomes,
        maxAttemptMs: durations.length > 0 ? Math.max(...durations) : null,
        settledMs: settledAt.has(behaviour) ? (settledAt.get(behaviour) ?? 0) - publishedAt : null,
        errors: [...new Set(mine.map((letter) => letter.error.slice(0, 160)))],
      });
    }
    sampling = false;
    await sampler;
    return {
      ackTimeoutMs: options.ackTimeoutMs,
      behaviours,
      rss: { beforeBytes: rssBefore, maxBytes: maxRss, afterBytes: await rssOf(gateway.pid) },
      hugeBytesWritten: receiver.hugeBytesWritten(),
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    sampling = false;
    await sampler;
    await gateway.close();
    await receiver.close();
    await redis.close();
  }
}
