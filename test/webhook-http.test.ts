import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRetryAfter, postWebhook } from '../queues/delivery/webhook-http.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Received {
  method: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
}

interface TestServer {
  url: string;
  received: Received[];
  /** TCP connections accepted so far: how we see whether keep-alive reused a socket. */
  connections: () => number;
}

const servers: Server[] = [];

/** A real HTTP server on a free loopback port, recording every request it gets. */
async function serve(handler: Handler): Promise<TestServer> {
  const received: Received[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({ method: req.method, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    handler(req, res);
  });
  let connections = 0;
  server.on('connection', () => {
    connections += 1;
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, received, connections: () => connections };
}

const reply =
  (status: number, body = '', headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, headers);
    res.end(body);
  };

async function closeServer(server: Server): Promise<void> {
  // Keep-alive (and deliberately hung) sockets would otherwise hold close() open.
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer));
});

/** A port that was free a moment ago and has nothing listening now. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const SECRET_HEADER = 'v1,c2VjcmV0LXNpZ25hdHVyZS1kby1ub3QtbGVhaw==';
const post = (url: string, extra: { timeoutMs?: number; maxResponseBytes?: number } = {}) =>
  postWebhook({
    url,
    body: '{"hello":"world"}',
    headers: { 'webhook-id': 'msg_1', 'webhook-signature': SECRET_HEADER },
    timeoutMs: 5000,
    ...extra,
  });

/** The budget of the tests whose body never ends: the status line must arrive within it. */
const BODY_BUDGET_MS = 1_000;

describe('postWebhook', () => {
  it('treats a 204 as delivered and sends the body, content type and headers', async () => {
    const server = await serve(reply(204));
    const outcome = await post(server.url);
    expect(outcome).toMatchObject({ ok: true, status: 204 });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(0);
    expect(server.received).toHaveLength(1);
    const [request] = server.received;
    expect(request?.method).toBe('POST');
    expect(request?.body).toBe('{"hello":"world"}');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['webhook-signature']).toBe(SECRET_HEADER);
  });

  it('treats a 200 with a body as delivered', async () => {
    const server = await serve(reply(200, '{"received":true}', { 'content-type': 'application/json' }));
    expect(await post(server.url)).toMatchObject({ ok: true, status: 200 });
  });

  it('retries a 500 as PROCESSING and quotes the body without the request headers', async () => {
    const server = await serve(reply(500, 'database is on fire'));
    const outcome = await post(server.url);
    expect(outcome).toMatchObject({
      ok: false,
      reason: 'PROCESSING',
      retryable: true,
      status: 500,
      retryAfterMs: null,
      error: 'HTTP 500: database is on fire',
    });
  });

  it('does not retry a 400', async () => {
    const server = await serve(reply(400, 'bad payload'));
    expect(await post(server.url)).toMatchObject({
      ok: false,
      reason: 'REJECTED',
      retryable: false,
      status: 400,
      error: 'HTTP 400: bad payload',
    });
  });

  it('retries a 408 as TIMEOUT', async () => {
    const server = await serve(reply(408));
    expect(await post(server.url)).toMatchObject({
      ok: false,
      reason: 'TIMEOUT',
      retryable: true,
      status: 408,
      error: 'HTTP 408',
    });
  });

  it('retries a 429 and reads Retry-After in seconds', async () => {
    const server = await serve(reply(429, 'slow down', { 'retry-after': '2' }));
    expect(await post(server.url)).toMatchObject({
      ok: false,
      reason: 'PROCESSING',
      retryable: true,
      status: 429,
      retryAfterMs: 2000,
    });
  });

  it('reads an HTTP-date Retry-After on a 503', async () => {
    const when = new Date(Date.now() + 10_000).toUTCString();
    const server = await serve(reply(503, 'maintenance', { 'retry-after': when }));
    const outcome = await post(server.url);
    expect(outcome).toMatchObject({ ok: false, reason: 'PROCESSING', retryable: true, status: 503 });
    if (outcome.ok) throw new Error('expected a failure');
    // HTTP dates have whole-second resolution, and the exchange itself takes a moment.
    expect(outcome.retryAfterMs).toBeGreaterThanOrEqual(8000);
    expect(outcome.retryAfterMs).toBeLessThanOrEqual(10_000);
  });

  it('ignores Retry-After on statuses where it means nothing to us', async () => {
    const server = await serve(reply(500, '', { 'retry-after': '60' }));
    expect(await post(server.url)).toMatchObject({ status: 500, retryAfterMs: null });
  });

  it('does not follow a redirect', async () => {
    const elsewhere = await serve(reply(204));
    const server = await serve(reply(302, '', { location: elsewhere.url }));
    const outcome = await post(server.url);
    expect(outcome).toMatchObject({ ok: false, reason: 'REJECTED', retryable: false, status: 302 });
    expect(server.received).toHaveLength(1);
    expect(elsewhere.received).toHaveLength(0);
  });

  it('times out a server that never answers', async () => {
    const server = await serve(() => {
      // Never respond.
    });
    const started = performance.now();
    const outcome = await post(server.url, { timeoutMs: 200 });
    const took = performance.now() - started;
    expect(outcome).toMatchObject({ ok: false, reason: 'TIMEOUT', retryable: true, status: null });
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(2000);
    expect(outcome.durationMs).toBeGreaterThanOrEqual(190);
  });

  it('gives up on a body that never ends within the same budget, keeping the status', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(500);
      res.write('half an answer');
      // Never end.
    });
    const started = performance.now();
    // A budget the status line arrives within even on a loaded machine (200 ms once did not, in CI).
    const outcome = await post(server.url, { timeoutMs: BODY_BUDGET_MS });
    expect(performance.now() - started).toBeLessThan(BODY_BUDGET_MS + 2000);
    expect(outcome).toMatchObject({ ok: false, reason: 'PROCESSING', status: 500 });
    if (outcome.ok) throw new Error('expected a failure');
    expect(outcome.error).toBe('HTTP 500: half an answer…');
  });

  it('counts a 2xx whose body never ends as delivered once the budget runs out', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200);
      res.write('still going');
    });
    const started = performance.now();
    expect(await post(server.url, { timeoutMs: BODY_BUDGET_MS })).toMatchObject({ ok: true, status: 200 });
    expect(performance.now() - started).toBeLessThan(BODY_BUDGET_MS + 2000);
  });

  it('sends our content type whatever the caller passed', async () => {
    const server = await serve(reply(204));
    await postWebhook({
      url: server.url,
      body: '{}',
      headers: { 'Content-Type': 'text/plain', 'X-Extra': 'yes' },
      timeoutMs: 5000,
    });
    const [request] = server.received;
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['x-extra']).toBe('yes');
  });

  it('reports a refused connection as DEPENDENCY naming ECONNREFUSED', async () => {
    const port = await closedPort();
    const outcome = await post(`http://127.0.0.1:${port}/hook`);
    expect(outcome).toMatchObject({ ok: false, reason: 'DEPENDENCY', retryable: true, status: null });
    if (outcome.ok) throw new Error('expected a failure');
    expect(outcome.error).toContain('ECONNREFUSED');
    expect(outcome.error).not.toContain(SECRET_HEADER);
  });

  it('truncates a huge response body in the error', async () => {
    const server = await serve(reply(500, 'x'.repeat(5_000_000)));
    const outcome = await post(server.url);
    expect(outcome).toMatchObject({ ok: false, reason: 'PROCESSING', status: 500 });
    if (outcome.ok) throw new Error('expected a failure');
    expect(outcome.error.startsWith('HTTP 500: xxx')).toBe(true);
    expect(outcome.error.length).toBeLessThanOrEqual(520);
    expect(outcome.error.endsWith('…')).toBe(true);
  });

  it('reads no more than maxResponseBytes of the body', async () => {
    const server = await serve(reply(400, 'abcdefghijklmnopqrstuvwxyz'));
    const outcome = await post(server.url, { maxResponseBytes: 10 });
    if (outcome.ok) throw new Error('expected a failure');
    expect(outcome.error).toBe('HTTP 400: abcdefghij…');
  });

  it('keeps the connection alive across deliveries, whatever the status', async () => {
    let calls = 0;
    const server = await serve((req, res) => {
      calls += 1;
      reply(calls % 2 === 0 ? 500 : 200, 'some body text')(req, res);
    });
    for (let i = 0; i < 10; i++) await post(server.url);
    expect(server.received).toHaveLength(10);
    // undici may open a second socket while the first is still being handed back to its pool;
    // anything that defeated keep-alive would show up here as one connection per delivery.
    expect(server.connections()).toBeLessThanOrEqual(2);
  });

  it('rejects URLs that can never work without sending anything', async () => {
    for (const url of ['not a url', 'ftp://127.0.0.1/hook', 'http://user:pass@127.0.0.1/hook']) {
      const outcome = await post(url);
      expect(outcome).toMatchObject({ ok: false, reason: 'REJECTED', retryable: false, status: null });
      if (outcome.ok) throw new Error('expected a failure');
      expect(outcome.error).not.toContain('pass');
    }
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
  });

  it('reads HTTP dates, clamping the past to zero', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
    // The obsolete RFC 850 and asctime forms are still valid HTTP dates.
    expect(parseRetryAfter('Wednesday, 01-Jan-25 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Wed Jan  1 00:00:10 2025', now)).toBe(10_000);
  });

  it('returns null for absent or unreadable values', () => {
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter('', now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
    expect(parseRetryAfter('1.5', now)).toBeNull();
    expect(parseRetryAfter('2025', now)).toBe(2_025_000);
  });
});
