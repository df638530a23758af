import { performance } from 'node:perf_hooks';
import { type Client, createClient } from 'graphql-ws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import {
  ADMIN_KEY,
  closeOf,
  codeOf,
  connectRaw,
  dataOf,
  overWebSocket,
  post,
  useGateways,
} from './gateway-harness.js';

const gateways = useGateways();
const KEYS_MODE = { SWITCHYARD_ADMIN_KEY: ADMIN_KEY };
const sockets: WebSocket[] = [];
const clients: Client[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
});

async function acked(url: string, payload: unknown): Promise<WebSocket> {
  const answer = await connectRaw(url, payload);
  if (!answer.acked) throw new Error(`refused: ${answer.code} ${answer.reason}`);
  sockets.push(answer.socket);
  return answer.socket;
}

interface Tail {
  results: unknown[];
  /** The close code the client saw, once it closed. */
  closed: Promise<number>;
  /** The error the subscription ended with. */
  ended: Promise<unknown>;
}

/** A graphql-ws client running one subscription with the given key. */
function tail(url: string, apiKey: string, query: string): Tail {
  let closedWith: (code: number) => void = () => {};
  const closed = new Promise<number>((resolve) => {
    closedWith = resolve;
  });
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { apiKey },
    on: { closed: (event) => closedWith((event as { code: number }).code) },
  });
  clients.push(client);
  const results: unknown[] = [];
  const ended = new Promise<unknown>((resolve) => {
    client.subscribe(
      { query },
      { next: (value) => results.push(value), error: resolve, complete: () => resolve(null) },
    );
  });
  return { results, closed, ended };
}

/** The promise's value, or a failure naming what did not happen within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const PUBLISH = 'mutation ($topic: String!) { publish(input: { topic: $topic, payload: 1 }) { messageId } }';

describe('connection_init', () => {
  it('should refuse a socket without a key, or with a bad one, with 4403 and say why', async () => {
    const { gateway, url } = await gateways.start(KEYS_MODE);
    const { key, secret } = await gateway.engine.apiKeys.create('ws', ['stats']);
    await gateway.engine.apiKeys.revoke(key.id);
    expect(await connectRaw(url)).toEqual({
      acked: false,
      code: 4403,
      reason: 'An API key is required: send {"apiKey":"<api key>"} as the connection_init payload',
    });
    expect(await connectRaw(url, { apiKey: 'sy_nope' })).toEqual({
      acked: false,
      code: 4403,
      reason: 'Unknown or revoked API key',
    });
    expect(await connectRaw(url, { apiKey: secret })).toMatchObject({
      code: 4403,
      reason: 'Unknown or revoked API key',
    });
    expect(await connectRaw(url, { apiKey: 42 })).toMatchObject({
      code: 4403,
      reason: 'connection_init payload.apiKey must be a non-empty string',
    });
    expect(await connectRaw(url, { authorization: `Basic ${ADMIN_KEY}` })).toMatchObject({
      code: 4403,
      reason: 'Authorization must be "Bearer <api key>"',
    });
    expect((await connectRaw(url, { authorization: `Bearer ${ADMIN_KEY}` })).acked).toBe(true);
  });

  it('should take the key in either shape and run every operation as that key', async () => {
    const { gateway, url } = await gateways.start(KEYS_MODE);
    const { secret } = await gateway.engine.apiKeys.create('ws', ['stats']);
    const health = '{ health { ok } }';
    expect(await overWebSocket(url, health, { apiKey: secret })).toEqual({ data: { health: { ok: true } } });
    expect(await overWebSocket(url, health, { authorization: `Bearer ${ADMIN_KEY}` })).toEqual({
      data: { health: { ok: true } },
    });
    const forbidden = await overWebSocket(url, '{ apiKeys { id } }', { apiKey: secret });
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('should lend loopback trust in protected mode only to sockets a browser page of this machine opened', async () => {
    const { url } = await gateways.start();
    expect((await connectRaw(url)).acked).toBe(true);
    expect(await connectRaw(url, undefined, { headers: { origin: 'https://evil.example' } })).toMatchObject({
      acked: false,
      code: 4403,
      reason: expect.stringMatching(/origin "https:\/\/evil\.example" is not allowed/),
    });
  });

  it('should close a socket that sends no connection_init in the configured time with 4408', async () => {
    const { url } = await gateways.start({ ...KEYS_MODE, SWITCHYARD_WS_INIT_TIMEOUT_MS: '150' });
    const started = performance.now();
    expect(await connectRaw(url, undefined, { init: false })).toEqual({
      acked: false,
      code: 4408,
      reason: 'Connection initialisation timeout',
    });
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('protocol', () => {
  it('should close a socket that sends a message only the server sends with 4400, not 4500', async () => {
    const { url } = await gateways.start(KEYS_MODE);
    for (const type of ['next', 'error', 'connection_ack']) {
      const socket = await acked(url, { apiKey: ADMIN_KEY });
      const closed = closeOf(socket);
      socket.send(JSON.stringify({ id: '1', type, payload: type === 'error' ? [] : {} }));
      expect(await closed, type).toEqual({ code: 4400, reason: 'Invalid message received' });
    }
  });
});

describe('limits', () => {
  it('should cap the websockets of one key with 1013, counting closed ones out, other keys apart', async () => {
    const { gateway, url } = await gateways.start({
      ...KEYS_MODE,
      SWITCHYARD_WS_MAX_CONNECTIONS_PER_KEY: '2',
    });
    const { secret } = await gateway.engine.apiKeys.create('busy', ['stats']);
    const { secret: otherSecret } = await gateway.engine.apiKeys.create('calm', ['stats']);
    const first = await acked(url, { apiKey: secret });
    await acked(url, { apiKey: secret });
    expect(await connectRaw(url, { apiKey: secret })).toEqual({
      acked: false,
      code: 1013,
      reason: 'At most 2 websockets per API key on one gateway instance',
    });
    await acked(url, { apiKey: otherSecret });
    first.close();
    await closeOf(first);
    // The server counts the socket out when it sees the close, which may come just after the client's.
    await waitFor(
      async () => {
        const answer = await connectRaw(url, { apiKey: secret });
        if (answer.acked) sockets.push(answer.socket);
        return answer.acked;
      },
      { timeoutMs: 2_000, message: 'the closed socket was never counted out' },
    );
  });

  it('should refuse operations past the configured number per socket with RATE_LIMITED', async () => {
    const { url } = await gateways.start({ ...KEYS_MODE, SWITCHYARD_WS_MAX_OPERATIONS: '2' });
    const socket = await acked(url, { apiKey: ADMIN_KEY });
    const errors: unknown[] = [];
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; id: string; payload: unknown };
      if (message.type === 'error') errors.push(message);
    });
    for (const id of ['1', '2', '3']) {
      socket.send(
        JSON.stringify({
          id,
          type: 'subscribe',
          payload: { query: 'subscription { stats(intervalMs: 60000) { windowMs } }' },
        }),
      );
    }
    await waitFor(() => errors.length > 0, { message: 'the third operation was not refused' });
    expect(errors).toEqual([
      {
        id: '3',
        type: 'error',
        payload: [
          expect.objectContaining({
            message: 'At most 2 operations may run at once on one websocket',
            extensions: expect.objectContaining({ code: 'RATE_LIMITED' }),
          }),
        ],
      },
    ]);
  });

  it("should charge each websocket operation to its key's rate limit, answering RATE_LIMITED", async () => {
    const { gateway, url } = await gateways.start({
      ...KEYS_MODE,
      SWITCHYARD_RATE_LIMIT_PER_SECOND: '1',
      SWITCHYARD_RATE_LIMIT_BURST: '2',
    });
    const { secret } = await gateway.engine.apiKeys.create('chatty', ['stats']);
    const socket = await acked(url, { apiKey: secret });
    const results: Array<{
      id: string;
      type: string;
      payload: { errors?: Array<{ extensions?: unknown }> };
    }> = [];
    socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (message.type === 'next') results.push(message);
    });
    for (const id of ['1', '2', '3']) {
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: '{ health { ok } }' } }));
      await waitFor(() => results.some((result) => result.id === id), { message: `no answer to ${id}` });
    }
    expect(results.map((result) => result.payload.errors?.[0]?.extensions ?? null)).toEqual([
      null,
      null,
      // Refused before execution, without data: it keeps its own code (not relabelled BAD_USER_INPUT).
      expect.objectContaining({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) }),
    ]);
  });

  it('should refuse depth attacks over websockets fast, with an Error message, keeping the socket', async () => {
    const { url } = await gateways.start(KEYS_MODE);
    const socket = await acked(url, { apiKey: ADMIN_KEY });
    const answers: Array<{ id: string; type: string; payload: unknown }> = [];
    socket.on('message', (data) => answers.push(JSON.parse(String(data))));
    let deep = 'name';
    for (let i = 0; i < 40; i++) deep = `ofType { ${deep} }`;
    const started = performance.now();
    const query = `{ __type(name: "Query") { fields { type { ${deep} } } } }`;
    socket.send(JSON.stringify({ id: 'deep', type: 'subscribe', payload: { query } }));
    await waitFor(() => answers.length > 0, { message: 'no answer to the attack' });
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(answers[0]).toEqual({
      id: 'deep',
      type: 'error',
      payload: [
        expect.objectContaining({
          message: 'Syntax Error: Query depth limit of 12 exceeded, found 44.',
          extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }),
        }),
      ],
    });
    socket.send(JSON.stringify({ id: 'ok', type: 'subscribe', payload: { query: '{ health { ok } }' } }));
    await waitFor(() => answers.some((answer) => answer.id === 'ok' && answer.type === 'next'), {
      message: 'the socket did not survive the attack',
    });
  });
});

describe('scopes over websockets', () => {
  it('should answer a forbidden subscription with one FORBIDDEN result and keep the socket for the rest', async () => {
    const { gateway, url } = await gateways.start(KEYS_MODE);
    await gateway.engine.createTopic({ name: 'orders.eu', kind: 'FANOUT' });
    await gateway.engine.createTopic({ name: 'invoices', kind: 'FANOUT' });
    const { secret } = await gateway.engine.apiKeys.create('tail', ['subscribe:orders.*']);
    const refused = tail(url, secret, 'subscription { messages(topic: "invoices") { id } }');
    expect(await refused.ended).toBeNull();
    expect(refused.results).toEqual([
      {
        errors: [
          expect.objectContaining({
            message: expect.stringMatching(/^Forbidden: Subscription.messages needs a scope subscribe:/),
            extensions: { code: 'FORBIDDEN', requiredScope: 'subscribe:invoices' },
          }),
        ],
      },
    ]);
    const allowed = tail(url, secret, 'subscription { messages(topic: "orders.eu") { payload } }');
    await waitFor(
      async () => {
        dataOf(await post(url, PUBLISH, { key: ADMIN_KEY, variables: { topic: 'orders.eu' } }));
        return allowed.results.length > 0;
      },
      { intervalMs: 50, message: 'the allowed tail saw nothing' },
    );
    expect(allowed.results[0]).toEqual({ data: { messages: { payload: 1 } } });
  });
});

describe('revocation', () => {
  it("should close a revoked key's sockets with 4403 within a second on every instance, ending its streams", async () => {
    const env = { ...KEYS_MODE, SWITCHYARD_PREFIX: uniquePrefix() };
    const one = await gateways.start(env);
    const other = await gateways.start(env);
    await one.gateway.engine.createTopic({ name: 'orders.eu', kind: 'FANOUT' });
    const { key, secret } = await one.gateway.engine.apiKeys.create('tail', ['subscribe:orders.*', 'stats']);
    const { secret: kept } = await one.gateway.engine.apiKeys.create('kept', ['subscribe:#']);
    const query = 'subscription { messages(topic: "orders.eu") { payload } }';
    const remote = tail(other.url, secret, query);
    const local = tail(one.url, secret, query);
    const bystander = tail(other.url, kept, query);
    await waitFor(
      async () => {
        dataOf(await post(one.url, PUBLISH, { key: ADMIN_KEY, variables: { topic: 'orders.eu' } }));
        return [remote, local, bystander].every((stream) => stream.results.length > 0);
      },
      { intervalMs: 50, message: 'the tails never saw a message' },
    );

    const revokedAt = performance.now();
    const revoked = await post(one.url, 'mutation ($id: ID!) { revokeApiKey(id: $id) }', {
      key: ADMIN_KEY,
      variables: { id: key.id },
    });
    expect(dataOf(revoked)).toEqual({ revokeApiKey: true });
    expect(await within(remote.closed, 1_000, 'closing the other instance’s socket')).toBe(4403);
    expect(await within(local.closed, 1_000, 'closing this instance’s socket')).toBe(4403);
    expect(performance.now() - revokedAt).toBeLessThan(1_000);
    expect(await remote.ended).toMatchObject({ code: 4403, reason: 'The API key was revoked' });

    const next = await post(other.url, '{ health { ok } }', { key: secret });
    expect(next.status).toBe(401);
    expect(codeOf(next)).toBe('UNAUTHENTICATED');
    expect(await connectRaw(other.url, { apiKey: secret })).toMatchObject({ acked: false, code: 4403 });
    // Other keys' streams go on.
    const seen = bystander.results.length;
    await waitFor(
      async () => {
        dataOf(await post(one.url, PUBLISH, { key: ADMIN_KEY, variables: { topic: 'orders.eu' } }));
        return bystander.results.length > seen;
      },
      { intervalMs: 50, message: 'the other key lost its stream' },
    );
  });

  it("should end a revoked key's subscriptions over SSE with UNAUTHENTICATED within a second", async () => {
    const { gateway, url } = await gateways.start(KEYS_MODE);
    const { key, secret } = await gateway.engine.apiKeys.create('dashboard', ['stats']);
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${secret}`,
      },
      body: JSON.stringify({ query: 'subscription { stats(intervalMs: 100) { windowMs } }' }),
    });
    const body = response.body;
    if (!body) throw new Error('no event stream');
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const readUntil = async (found: () => boolean) => {
      // Bounded by the stream's end and the test's timeout.
      while (!found()) {
        const chunk = await reader.read();
        if (chunk.done) return;
        text += chunk.value;
      }
    };
    await readUntil(() => text.includes('"windowMs"'));
    const revokedAt = performance.now();
    await gateway.engine.apiKeys.revoke(key.id);
    await within(
      readUntil(() => text.includes('event: complete')),
      1_000,
      'ending the SSE stream',
    );
    expect(performance.now() - revokedAt).toBeLessThan(1_000);
    const last = text
      .split('\n')
      .filter((line) => line.startsWith('data: {'))
      .at(-1);
    expect(JSON.parse(last?.slice('data: '.length) ?? '{}')).toEqual({
      errors: [
        expect.objectContaining({
          message: 'The API key was revoked',
          extensions: { code: 'UNAUTHENTICATED' },
        }),
      ],
    });
  });
});
