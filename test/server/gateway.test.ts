import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createEngine } from '../../queues/engine/engine.js';
import { loadConfig } from '../../server/config.js';
import { createGateway, type Gateway } from '../../server/gateway.js';
import { startRedisServer } from '../../server/redis-process.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { startTestRedis, type TestRedis, uniquePrefix, waitFor } from '../helpers/redis.js';

let redis: TestRedis;
const gateways: Gateway[] = [];
const receivers: Receiver[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterEach(async () => {
  const stops = await Promise.allSettled(gateways.splice(0).map((gateway) => gateway.stop()));
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
  // A gateway that could not stop cleanly leaked a connection, a request or a delivery.
  expect(stops.filter((result) => result.status === 'rejected')).toEqual([]);
});
afterAll(async () => {
  await redis?.stop();
});

function testConfig(redisUrl: string, overrides: Record<string, string> = {}) {
  const config = loadConfig({
    PORT: '0',
    SWITCHYARD_PREFIX: uniquePrefix(),
    SWITCHYARD_LOG_LEVEL: 'silent',
    SWITCHYARD_SHUTDOWN_TIMEOUT_MS: '10000',
    ...overrides,
  });
  return { ...config, redisUrl };
}

async function startGateway(redisUrl = redis.url, overrides: Record<string, string> = {}) {
  const config = testConfig(redisUrl, overrides);
  const gateway = await createGateway(config, { version: '9.9.9-test' });
  gateways.push(gateway);
  const { port, url } = await gateway.start();
  return { gateway, config, port, url, base: `http://127.0.0.1:${port}` };
}

async function graphql(url: string, query: string, variables?: Record<string, unknown>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphQLBody };
}

interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

async function getHealth(base: string) {
  const response = await fetch(`${base}/health`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Polls /health until it answers `status`, and answers that response. */
async function healthWhen(base: string, status: number, message: string, timeoutMs = 5_000) {
  let last: Awaited<ReturnType<typeof getHealth>> | undefined;
  await waitFor(
    async () => {
      last = await getHealth(base);
      return last.status === status;
    },
    { timeoutMs, message },
  );
  if (!last) throw new Error(message);
  return last;
}

function wsClient(url: string) {
  return createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
  });
}

async function firstResult(client: ReturnType<typeof createClient>, query: string) {
  const results = client.iterate({ query });
  try {
    const first = await results.next();
    return first.value as GraphQLBody;
  } finally {
    await results.return?.();
  }
}

describe('start', () => {
  it('should listen on the port the OS picked and report it in the URL', async () => {
    const { port, url } = await startGateway();
    expect(port).toBeGreaterThan(0);
    expect(url).toBe(`http://127.0.0.1:${port}/graphql`);
  });

  it('should redirect / to /graphql', async () => {
    const { base } = await startGateway();
    const response = await fetch(`${base}/`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/graphql');
  });

  it('should refuse to be created without a Redis URL', async () => {
    const config = { ...testConfig(redis.url), redisUrl: null };
    await expect(createGateway(config)).rejects.toThrow(/redisUrl/);
  });
});

describe('GET /health', () => {
  it('should answer 200 with the report once ready', async () => {
    const { base } = await startGateway();
    const { status, body } = await getHealth(base);
    expect(status).toBe(200);
    expect(body).toMatchObject({ ok: true, redis: true, workers: 0, draining: false, version: '9.9.9-test' });
    expect(body.uptimeSeconds).toBeTypeOf('number');
    // The watchdog's limit: the upper one (750 ms) while it warms up, never below its floor of 60 ms.
    expect(body.redisUnresponsiveAfterMs).toBeGreaterThanOrEqual(60);
    expect(body.redisUnresponsiveAfterMs).toBeLessThanOrEqual(750);
  });

  it('should count the webhook workers it runs', async () => {
    const { gateway, base } = await startGateway();
    const receiver = await startReceiver();
    receivers.push(receiver);
    await gateway.engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await gateway.engine.createQueue({ topic: 'orders', name: 'hook', target: 'WEBHOOK', url: receiver.url });
    await waitFor(async () => (await getHealth(base)).body.workers === 1, {
      message: 'health never counted the webhook worker',
    });
  });

  it('should answer 503 while Redis is down and 200 again once it is back, without the process going down', async () => {
    // A Redis of its own: the file's Redis must stay up for the other tests.
    const dir = await mkdtemp(join(tmpdir(), 'switchyard-gateway-'));
    const own = await startRedisServer({ dir, appendOnly: true });
    try {
      const { base, url } = await startGateway(own.url);
      expect((await getHealth(base)).status).toBe(200);

      await own.stop();
      const down = await healthWhen(base, 503, '/health never reported the stopped Redis');
      expect(down.body).toMatchObject({ ok: false, redis: false });
      // The gateway still answers GraphQL requests: with UNAVAILABLE rather than a hang or a crash.
      // (topics come from the in-memory routing table; creating one has to reach Redis)
      const refused = await graphql(
        url,
        'mutation { createTopic(input: { name: "t", kind: FANOUT }) { name } }',
      );
      expect(refused.body, JSON.stringify(refused.body)).toMatchObject({
        errors: [{ extensions: { code: 'UNAVAILABLE' } }],
      });

      await own.restart();
      const up = await healthWhen(base, 200, '/health never recovered after Redis came back', 15_000);
      expect(up.body).toMatchObject({ ok: true, redis: true });
    } finally {
      await own.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('GraphQL over HTTP and websocket', () => {
  it('should answer a query over HTTP', async () => {
    const { url } = await startGateway();
    const { status, body } = await graphql(url, '{ health { ok redis version } }');
    expect(status).toBe(200);
    expect(body).toEqual({ data: { health: { ok: true, redis: true, version: '9.9.9-test' } } });
  });

  it('should answer a query over a websocket on the same port and path', async () => {
    const { url } = await startGateway();
    const client = wsClient(url);
    try {
      expect(await firstResult(client, '{ health { ok } }')).toEqual({ data: { health: { ok: true } } });
    } finally {
      await client.dispose();
    }
  });

  it('should run websocket operations through the same plugins as HTTP (error codes survive masking)', async () => {
    const { url } = await startGateway();
    const mutation =
      'mutation { createQueue(input: { topic: "missing", name: "q", target: CONSUMER }) { name } }';
    const overHttp = await graphql(url, mutation);
    const client = wsClient(url);
    try {
      const overSocket = await firstResult(client, mutation);
      expect(overHttp.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect(overSocket.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect(overSocket.errors?.[0]?.message).toBe(overHttp.body.errors?.[0]?.message);
    } finally {
      await client.dispose();
    }
  });

  it('should answer a syntax error over the websocket as a GraphQL error, keeping the socket open', async () => {
    const { url } = await startGateway();
    const client = wsClient(url);
    try {
      await expect(firstResult(client, '{ health { ok ')).rejects.toSatisfy((errors: unknown) =>
        JSON.stringify(errors).includes('Syntax Error'),
      );
      expect(await firstResult(client, '{ health { ok } }')).toEqual({ data: { health: { ok: true } } });
    } finally {
      await client.dispose();
    }
  });
});

describe('stop', () => {
  it('should fail a request waiting for its reply with UNAVAILABLE at once, not at its timeout', async () => {
    const { gateway, url } = await startGateway();
    await graphql(
      url,
      'mutation { createTopic(input: { name: "rpc", kind: FANOUT }) { name } createQueue(input: { topic: "rpc", name: "pull", target: CONSUMER }) { name } }',
    );
    const waiting = graphql(
      url,
      'mutation { request(input: { topic: "rpc", payload: 1 }, timeoutMs: 30000) { messageId } }',
    );
    await waitFor(
      async () => (await gateway.engine.queueStats({ topic: 'rpc', name: 'pull' })).waiting === 1,
    );
    const started = Date.now();
    await gateway.stop();
    const { body } = await waiting;
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('should return the same promise when called twice', async () => {
    const { gateway } = await startGateway();
    const first = gateway.stop();
    expect(gateway.stop()).toBe(first);
    await first;
    await expect(gateway.start()).rejects.toThrow(/stopping/);
  });

  it('should close websockets with 1001 (going away)', async () => {
    const { gateway, url } = await startGateway();
    const client = createClient({
      url: url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      // The close we cause is the point of the test, not an error to print.
      onNonLazyError: () => {},
    });
    const closed = new Promise<number>((resolve) => {
      client.on('closed', (event) => resolve((event as { code: number }).code));
    });
    await new Promise<void>((resolve) => client.on('connected', () => resolve()));
    try {
      await gateway.stop();
      expect(await closed).toBe(1001);
    } finally {
      await client.dispose();
    }
  });

  it('should refuse new requests with 503 UNAVAILABLE while an in-flight request finishes', async () => {
    const { gateway, url } = await startGateway();
    await gateway.engine.createTopic({ name: 'jobs', kind: 'FANOUT' });
    await gateway.engine.createQueue({ topic: 'jobs', name: 'pull', target: 'CONSUMER' });
    // A long poll that is still waiting when the drain begins.
    const inFlight = graphql(
      url,
      'mutation { receive(topic: "jobs", queue: "pull", max: 1, waitMs: 1500) { id } }',
    );
    await waitFor(() => gateway.inFlight === 1, { message: 'the long poll never reached the gateway' });
    const stopped = gateway.stop();

    const refused = await gateway.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ topics { name } }' }),
    });
    expect(refused.status).toBe(503);
    const refusedBody = (await refused.json()) as GraphQLBody;
    expect(refusedBody.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
    const health = await gateway.yoga.fetch('http://localhost/health');
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ ok: false, draining: true });
    // New connections are not accepted at all any more.
    await expect(fetch(url, { method: 'POST' })).rejects.toThrow();

    const finished = await inFlight;
    expect(finished.status).toBe(200);
    expect(finished.body).toEqual({ data: { receive: [] } });
    await stopped;
  });

  it('should let an in-flight webhook delivery finish, so it is neither lost nor delivered again', async () => {
    const { gateway, config } = await startGateway();
    const receiver = await startReceiver();
    receivers.push(receiver);
    receiver.respond = () => ({ status: 204, delayMs: 500 });
    await gateway.engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await gateway.engine.createQueue({ topic: 'orders', name: 'hook', target: 'WEBHOOK', url: receiver.url });
    await waitFor(() => gateway.engine.webhookWorkers === 1);
    const published = await gateway.engine.publish({ topic: 'orders', payload: { n: 1 } });
    await waitFor(() => receiver.requests.length === 1, { message: 'the delivery never started' });

    await gateway.stop();
    // stop() waited for the receiver's answer (500 ms after the request arrived) instead of cutting it off;
    // a few ms of slack for timer granularity.
    const arrivedAt = receiver.requests[0]?.at ?? Number.POSITIVE_INFINITY;
    expect(Date.now()).toBeGreaterThanOrEqual(arrivedAt + 490);

    const inspector = await createEngine({
      redisUrl: redis.url,
      keyPrefix: config.keyPrefix,
      runWorkers: false,
    });
    try {
      const stats = await inspector.queueStats({ topic: 'orders', name: 'hook' });
      expect(stats).toMatchObject({ completed: 1, active: 0, waiting: 0, delayed: 0, failed: 0 });
    } finally {
      await inspector.close();
    }
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]?.headers['webhook-id']).toBe(published.messageId);
  });

  it('should give up after shutdownTimeoutMs and leave an unfinished delivery in Redis to be redelivered', async () => {
    const { gateway, config } = await startGateway(redis.url, { SWITCHYARD_SHUTDOWN_TIMEOUT_MS: '300' });
    // This test awaits the failed stop itself.
    gateways.splice(gateways.indexOf(gateway), 1);
    const receiver = await startReceiver();
    receivers.push(receiver);
    receiver.respond = () => ({ status: 204, delayMs: 20_000 });
    await gateway.engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await gateway.engine.createQueue({ topic: 'orders', name: 'hook', target: 'WEBHOOK', url: receiver.url });
    await gateway.engine.publish({ topic: 'orders', payload: { n: 1 } });
    await waitFor(() => receiver.requests.length === 1, { message: 'the delivery never started' });

    const stopStartedAt = Date.now();
    await expect(gateway.stop()).rejects.toThrow(/did not finish within 300 ms/);
    expect(Date.now() - stopStartedAt).toBeLessThan(2_000);

    const inspector = await createEngine({
      redisUrl: redis.url,
      keyPrefix: config.keyPrefix,
      runWorkers: false,
    });
    try {
      // Neither completed nor dead-lettered: the job is still held, and BullMQ hands it out again when
      // the lock of the gateway that gave up lapses.
      const stats = await inspector.queueStats({ topic: 'orders', name: 'hook' });
      expect(stats).toMatchObject({ active: 1, completed: 0, failed: 0 });
    } finally {
      await inspector.close();
    }
    // Let the abandoned delivery end so the engine's background close completes before the next test.
    await receiver.close();
    await gateway.engine.close();
  });
});
