import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestRedis, type TestRedis, uniquePrefix, waitFor } from '../helpers/redis.js';
import {
  type ChildGateway,
  collect,
  dataOf,
  type GraphQLBody,
  gatewayPool,
  gql,
  spawnGateway,
  testEnv,
} from './helpers.js';

/**
 * Clients that do not keep up, and connections that die: the server's memory stays bounded, nothing
 * acknowledged is lost, and every close has a documented code (docs/PROTOCOL.md).
 */

let redis: TestRedis;
const pool = gatewayPool();
const children: ChildGateway[] = [];
const sockets: WebSocket[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await Promise.all(children.splice(0).map((child) => child.stop()));
  const stops = await pool.stopAll();
  expect(stops.filter((result) => result.status === 'rejected')).toEqual([]);
});
afterAll(async () => {
  await redis?.stop();
});

const MiB = 1024 * 1024;

interface RawMessage {
  id?: string;
  type: string;
  payload?: GraphQLBody<{ messages?: { payload: unknown; droppedBefore: number | null } }>;
}

/** A graphql-transport-ws client written out over `ws`, so a test can stop reading its socket. */
function rawClient(url: string, options: { autoPong?: boolean } = {}) {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws', {
    autoPong: options.autoPong ?? true,
  });
  sockets.push(socket);
  const received: RawMessage[] = [];
  const pings: number[] = [];
  let closed: { code: number; reason: string } | null = null;
  socket.on('message', (data) => received.push(JSON.parse(String(data)) as RawMessage));
  socket.on('ping', () => pings.push(Date.now()));
  socket.on('close', (code, reason) => {
    closed = { code, reason: String(reason) };
  });
  socket.on('error', () => {});
  const acked = new Promise<void>((resolve, reject) => {
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.once('error', reject);
    const check = () => {
      if (received.some((message) => message.type === 'connection_ack')) resolve();
      else setTimeout(check, 5);
    };
    check();
  });
  return {
    socket,
    received,
    pings,
    closed: () => closed,
    acked,
    send: (message: object) => socket.send(JSON.stringify(message)),
    nexts: (id: string) => received.filter((message) => message.type === 'next' && message.id === id),
  };
}

const publishBatch = (url: string, inputs: object[]) =>
  gql(url, 'mutation ($inputs: [PublishInput!]!) { publishBatch(inputs: $inputs) { messageId } }', {
    inputs,
  }).then(dataOf);

describe('a client that stops reading', () => {
  it('should hold at most its buffer bounds for a client that reads nothing while 48 MiB of messages flow to it', async () => {
    // A gateway of its own, so its heap holds nothing but this test's work; pings off for the test's span.
    const child = await spawnGateway(redis.url, testEnv({ SWITCHYARD_PREFIX: uniquePrefix() }), {
      websocket: { keepAliveMs: 120_000 },
    });
    children.push(child);
    dataOf(
      await gql(child.url, 'mutation { createTopic(input: { name: "firehose", kind: FANOUT }) { name } }'),
    );
    const client = rawClient(child.url);
    await client.acked;
    client.send({
      id: 'tail',
      type: 'subscribe',
      payload: { query: 'subscription { messages(topic: "firehose") { payload droppedBefore } }' },
    });
    await waitFor(
      async () => {
        await publishBatch(child.url, [{ topic: 'firehose', payload: 'warm-up' }]);
        return client.nexts('tail').length > 0;
      },
      { message: 'the subscription never went live' },
    );
    await publishBatch(child.url, [{ topic: 'firehose', payload: 'warm-up-done' }]);
    await waitFor(() =>
      client.nexts('tail').some((message) => message.payload?.data?.messages?.payload === 'warm-up-done'),
    );
    const before = client.nexts('tail').length;

    client.socket.pause();
    const baseline = (await child.request<'memory'>('memory')).heapUsed;
    const body = 'x'.repeat(16 * 1024);
    const batches = 120;
    const perBatch = 25;
    let peakHeap = baseline;
    let peakHeld = 0;
    for (let batch = 0; batch < batches; batch++) {
      await publishBatch(
        child.url,
        Array.from({ length: perBatch }, (_, n) => ({
          topic: 'firehose',
          payload: { n: batch * perBatch + n, body },
        })),
      );
      if (batch % 10 === 9) {
        const memory = await child.request<'memory'>('memory');
        peakHeap = Math.max(peakHeap, memory.heapUsed);
        peakHeld = Math.max(peakHeld, memory.heldBytes);
      }
    }
    const published = batches * perBatch;

    // What the gateway holds for the client, counted, not inferred from the heap (whose size after a
    // collection still moves with what else the process did): the subscriber's buffer (4 MiB,
    // maxBufferedBytes) and the socket's send buffer (written to while under 64 KiB, so at most that
    // and one 16 KiB frame). Without the bound it holds all 48 MiB minus what the kernel absorbed.
    expect(peakHeld).toBeGreaterThan(1 * MiB);
    expect(peakHeld).toBeLessThan(4 * MiB + 64 * 1024 + 32 * 1024);
    // The heap as a coarse check for anything held outside those buffers: without any bound it grew
    // by about 46 MiB here (measured); the margin is wide so that collection timing cannot fail it.
    expect(peakHeap - baseline).toBeLessThan(32 * MiB);
    console.log(
      `held for the client at most ${(peakHeld / MiB).toFixed(2)} MiB; heap grew ${((peakHeap - baseline) / MiB).toFixed(1)} MiB`,
    );

    // Reading again: what was kept arrives, and the count of what was dropped is exact.
    client.socket.resume();
    await publishBatch(child.url, [{ topic: 'firehose', payload: 'end' }]);
    await waitFor(
      () => client.nexts('tail').some((message) => message.payload?.data?.messages?.payload === 'end'),
      {
        timeoutMs: 20_000,
        message: 'the end marker never arrived after the client read again',
      },
    );
    const after = client.nexts('tail').slice(before);
    const data = after.map((message) => message.payload?.data?.messages);
    const kept = data.filter((message) => message?.payload !== 'end').length;
    const dropped = data.reduce((sum, message) => sum + (message?.droppedBefore ?? 0), 0);
    expect(dropped).toBeGreaterThan(0);
    expect(kept + dropped).toBe(published);
    // Nothing is lost silently: the gateway counted every message it dropped for this client.
    const metrics = await (await fetch(child.url.replace(/\/graphql$/, '/metrics'))).text();
    const counted = metrics
      .split('\n')
      .filter(
        (line) =>
          line.startsWith('switchyard_messages_not_delivered_total{') &&
          line.includes('reason="live_dropped"'),
      )
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    expect(counted).toBe(dropped);
    // Kept messages are the newest ones, in order: the oldest were dropped.
    const numbers = data.flatMap((message) =>
      typeof message?.payload === 'object' && message.payload !== null
        ? [(message.payload as { n: number }).n]
        : [],
    );
    expect(numbers).toEqual([...numbers].sort((x, y) => x - y));
    expect(numbers.at(-1)).toBe(published - 1);
  }, 120_000);

  it('should close the socket with 4413 when query results pile up beyond maxBufferedBytes', async () => {
    const { gateway, url } = await pool.start(redis.url, {}, { websocket: { maxBufferedBytes: 64 * 1024 } });
    // Big answers: 100 topics with 1 KiB descriptions, about 110 KiB per `topics` query.
    for (let n = 0; n < 100; n++) {
      await gateway.engine.createTopic({ name: `t${n}`, kind: 'FANOUT', description: 'd'.repeat(1000) });
    }
    const client = rawClient(url);
    await client.acked;
    client.socket.pause();

    // Far more than the kernel's socket buffers hold, so the rest waits in the server's own buffer.
    for (let n = 0; n < 300; n++) {
      client.send({ id: `q${n}`, type: 'subscribe', payload: { query: '{ topics { name description } }' } });
    }
    client.socket.resume();

    await waitFor(() => client.closed() !== null, {
      timeoutMs: 20_000,
      message: 'the socket was never closed',
    });
    expect(client.closed()).toEqual({ code: 4413, reason: 'Send buffer full: the client reads too slowly' });
  }, 60_000);
});

describe('keep-alive', () => {
  it('should ping every keepAliveMs and terminate a peer that stops answering', async () => {
    const { url } = await pool.start(redis.url, {}, { websocket: { keepAliveMs: 100 } });
    const answering = rawClient(url);
    const silent = rawClient(url, { autoPong: false });
    await Promise.all([answering.acked, silent.acked]);

    await waitFor(() => answering.pings.length >= 5, { message: 'fewer than five pings' });
    // The silent peer got its first ping and no second: it was cut after one unanswered interval,
    // without a close frame (1006 on this side).
    await waitFor(() => silent.closed() !== null, { message: 'a silent peer was never terminated' });
    expect(silent.closed()?.code).toBe(1006);
    expect(silent.pings.length).toBe(1);
    expect(answering.closed()).toBeNull();
  });
});

describe('limits and shutdown', () => {
  it('should refuse one operation too many on a socket with RATE_LIMITED, keeping the others', async () => {
    const { gateway, url } = await pool.start(redis.url, {}, { websocket: { maxOperationsPerSocket: 2 } });
    await gateway.engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const client = pool.client(url);
    const query = 'subscription { messages(topic: "orders") { id } }';
    const first = collect<GraphQLBody>(client, query);
    const second = collect<GraphQLBody>(client, query);
    const third = collect<GraphQLBody>(client, query);

    // Refused in onSubscribe: graphql-ws answers with an `error` message for that operation only.
    await waitFor(() => third.errors.length > 0);
    expect(third.errors[0]).toMatchObject([
      { extensions: { code: 'RATE_LIMITED', maxOperationsPerSocket: 2 } },
    ]);
    expect(first.completed || second.completed || first.errors.length + second.errors.length > 0).toBe(false);
  });

  it('should close sockets with 1001 on shutdown and put unacked consume deliveries back at once', async () => {
    const first = await pool.start(redis.url);
    const second = await pool.start(redis.url, { SWITCHYARD_PREFIX: first.prefix });
    await first.gateway.engine.createTopic({ name: 'jobs', kind: 'FANOUT' });
    // A visibility timeout far beyond the test: only the release on shutdown can bring them back in time.
    await first.gateway.engine.createQueue({
      topic: 'jobs',
      name: 'work',
      target: 'CONSUMER',
      ackTimeoutMs: 120_000,
    });
    const leaving = rawClient(first.url);
    await leaving.acked;
    leaving.send({
      id: 'c',
      type: 'subscribe',
      payload: {
        query:
          'subscription { consume(topic: "jobs", queue: "work", prefetch: 5) { id message { payload } } }',
      },
    });
    await first.gateway.engine.publishBatch([1, 2, 3].map((payload) => ({ topic: 'jobs', payload })));
    await waitFor(() => leaving.nexts('c').length === 3);

    await first.gateway.stop();

    expect(leaving.closed()).toEqual({ code: 1001, reason: 'The gateway is shutting down' });
    // No error before the close: a websocket client resubscribes after reconnecting, which an error
    // (as SSE streams get on shutdown) would stop it from doing.
    expect(
      leaving.received.filter((message) => message.type === 'error' || message.type === 'complete'),
    ).toEqual([]);
    const taken = await second.gateway.engine.receive('jobs', 'work', 10, 2_000);
    expect(taken.map((delivery) => delivery.message.payload).sort()).toEqual([1, 2, 3]);
  });
});
