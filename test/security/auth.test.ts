import type { Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import type { Engine, EngineOptions } from '../../queues/engine/engine.js';
import type { Caller } from '../../queues/security/api-keys.js';
import { createAuthenticator, isLoopbackAddress, isLoopbackHost } from '../../server/auth.js';
import { useAuth } from '../../server/use-auth.js';
import { createYogaApp, type YogaApp } from '../../server/yoga.js';
import { useEngineHarness } from '../engine/harness.js';

const harness = useEngineHarness();
const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
const REMOTE = '203.0.113.5';
const LOOPBACK = '127.0.0.1';

interface Setup {
  engine: Engine;
  yoga: YogaApp;
  /** What resolvers saw as `context.auth`, one entry per executed operation. */
  seen: Array<Caller | undefined>;
}

async function setup(
  options: { adminKey?: string | null; corsOrigins?: string[]; engine?: Partial<EngineOptions> } = {},
): Promise<Setup> {
  const engine = await harness.engine({ runWorkers: false, ...options.engine });
  const authenticator = createAuthenticator({
    adminKey: options.adminKey ?? null,
    apiKeys: engine.apiKeys,
    corsOrigins: options.corsOrigins ?? [],
  });
  const seen: Array<Caller | undefined> = [];
  const capture: Plugin = {
    onExecute: ({ args }) => {
      seen.push((args.contextValue as { auth?: Caller }).auth);
    },
  };
  const yoga = createYogaApp({
    engine,
    logging: false,
    plugins: [useAuth({ authenticator, rateLimiter: engine.rateLimiter }), capture],
  });
  return { engine, yoga, seen };
}

interface Ask {
  from?: string | null;
  key?: string;
  authorization?: string;
  host?: string;
  origin?: string;
  query?: string;
}

interface Answer {
  status: number;
  headers: Headers;
  body: {
    data?: Record<string, unknown> | null;
    errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  };
}

/**
 * One POST through yoga.fetch. The remote address reaches the plugin the way node:http gives it, as
 * the server context's `req.socket.remoteAddress`; `from: null` sends no server context at all.
 */
async function ask(yoga: YogaApp, options: Ask = {}): Promise<Answer> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    host: options.host ?? 'localhost:4000',
  };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  if (options.authorization) headers.authorization = options.authorization;
  if (options.origin) headers.origin = options.origin;
  const init = {
    method: 'POST',
    headers,
    body: JSON.stringify({ query: options.query ?? '{ topics { name } }' }),
  };
  const from = options.from === undefined ? LOOPBACK : options.from;
  const response =
    from === null
      ? await yoga.fetch('http://localhost:4000/graphql', init)
      : await yoga.fetch('http://localhost:4000/graphql', init, { req: { socket: { remoteAddress: from } } });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Answer['body'],
  };
}

function expectUnauthenticated(answer: Answer, message?: RegExp): void {
  expect(answer.status).toBe(401);
  expect(answer.headers.get('www-authenticate')).toBe('Bearer');
  expect(answer.body.data).toBeUndefined();
  expect(answer.body.errors).toHaveLength(1);
  expect(answer.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  if (message) expect(answer.body.errors?.[0]?.message).toMatch(message);
}

describe('address helpers', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['203.0.113.5', false],
    ['::ffff:203.0.113.5', false],
    ['10.0.0.1', false],
    ['', false],
    [undefined, false],
  ])('isLoopbackAddress(%j) is %s', (address, loopback) => {
    expect(isLoopbackAddress(address)).toBe(loopback);
  });

  it.each([
    ['localhost:4000', true],
    ['LOCALHOST', true],
    ['app.localhost:5173', true],
    ['127.0.0.1:4000', true],
    ['[::1]:4000', true],
    ['evil.example', false],
    ['localhost.evil.example', false],
    ['127.0.0.1.nip.io', false],
    [null, false],
  ])('isLoopbackHost(%j) is %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});

describe('protected mode (no SWITCHYARD_ADMIN_KEY)', () => {
  it('should refuse every request from another address with UNAUTHENTICATED, even with a valid key', async () => {
    const { engine, yoga, seen } = await setup();
    const { secret } = await engine.apiKeys.create('svc', ['admin']);
    expectUnauthenticated(await ask(yoga, { from: REMOTE }), /loopback clients until SWITCHYARD_ADMIN_KEY/);
    expectUnauthenticated(await ask(yoga, { from: REMOTE, key: secret }), /protected mode/);
    expectUnauthenticated(await ask(yoga, { from: null }), /protected mode/);
    expect(seen).toEqual([]);
  });

  it('should serve a loopback client without a key as admin', async () => {
    const { yoga, seen } = await setup();
    const answer = await ask(yoga);
    expect(answer.body).toEqual({ data: { topics: [] } });
    expect(seen).toEqual([{ key: null, admin: true, loopback: true, scopes: ['admin'] }]);
  });

  it('should not lend loopback trust to a page of another site (CSRF) or a rebound name', async () => {
    const { yoga, seen } = await setup();
    expectUnauthenticated(
      await ask(yoga, { origin: 'https://evil.example' }),
      /origin "https:\/\/evil\.example"/,
    );
    expectUnauthenticated(await ask(yoga, { origin: 'null' }), /is not allowed/);
    expectUnauthenticated(await ask(yoga, { host: 'evil.example:4000' }), /Host header/);
    expect((await ask(yoga, { origin: 'http://localhost:5173' })).body.errors).toBeUndefined();
    expect(
      (await ask(yoga, { origin: 'http://127.0.0.1:4000', host: '127.0.0.1:4000' })).body.errors,
    ).toBeUndefined();
    expect(seen).toHaveLength(2);
  });

  it('should lend it to the configured CORS origins', async () => {
    const { yoga } = await setup({ corsOrigins: ['https://dash.example.com'] });
    expect((await ask(yoga, { origin: 'https://dash.example.com' })).body.errors).toBeUndefined();
    expectUnauthenticated(await ask(yoga, { origin: 'https://other.example.com' }));
  });

  it("should let a loopback client's key decide when it sends one", async () => {
    const { engine, yoga, seen } = await setup();
    const { key, secret } = await engine.apiKeys.create('svc', ['publish:orders.*']);
    expect((await ask(yoga, { key: secret })).body.errors).toBeUndefined();
    expect(seen[0]).toMatchObject({
      key: { id: key.id },
      admin: false,
      loopback: true,
      scopes: ['publish:orders.*'],
    });
    expectUnauthenticated(await ask(yoga, { key: 'sy_unknown' }), /Unknown or revoked API key/);
  });
});

describe('with SWITCHYARD_ADMIN_KEY', () => {
  it('should require a key from every address, loopback included', async () => {
    const { yoga, seen } = await setup({ adminKey: ADMIN_KEY });
    expectUnauthenticated(await ask(yoga), /An API key is required/);
    expectUnauthenticated(await ask(yoga, { from: REMOTE }), /An API key is required/);
    expect(seen).toEqual([]);
  });

  it('should serve the admin key from any address, as admin', async () => {
    const { yoga, seen } = await setup({ adminKey: ADMIN_KEY });
    expect(
      (await ask(yoga, { from: REMOTE, key: ADMIN_KEY, host: 'gw.example.com' })).body.errors,
    ).toBeUndefined();
    expect(seen[0]).toMatchObject({ key: { id: 'admin', scopes: ['admin'] }, admin: true, loopback: false });
  });

  it('should refuse near misses of the admin key, malformed headers and unknown keys', async () => {
    const { yoga } = await setup({ adminKey: ADMIN_KEY });
    expectUnauthenticated(await ask(yoga, { key: `${ADMIN_KEY}x` }), /Unknown or revoked/);
    expectUnauthenticated(await ask(yoga, { key: ADMIN_KEY.slice(0, -1) }), /Unknown or revoked/);
    expectUnauthenticated(
      await ask(yoga, { authorization: `Basic ${ADMIN_KEY}` }),
      /must be "Bearer <api key>"/,
    );
    expectUnauthenticated(await ask(yoga, { authorization: 'Bearer' }), /must be "Bearer <api key>"/);
    expectUnauthenticated(
      await ask(yoga, { key: 'sy_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }),
      /Unknown/,
    );
  });

  it('should serve an API key with its scopes, and refuse its next request once revoked', async () => {
    const { engine, yoga, seen } = await setup({ adminKey: ADMIN_KEY });
    const { key, secret } = await engine.apiKeys.create('svc', ['stats']);
    expect((await ask(yoga, { from: REMOTE, key: secret })).body.errors).toBeUndefined();
    expect(seen[0]).toMatchObject({ key: { id: key.id, name: 'svc' }, admin: false, scopes: ['stats'] });
    await engine.apiKeys.revoke(key.id);
    expectUnauthenticated(await ask(yoga, { from: REMOTE, key: secret }), /revoked/);
  });

  it('should change nothing for a refused request', async () => {
    const { engine, yoga } = await setup({ adminKey: ADMIN_KEY });
    const mutation = 'mutation { createTopic(input: { name: "orders", kind: FANOUT }) { name } }';
    expectUnauthenticated(await ask(yoga, { query: mutation, from: REMOTE }));
    expectUnauthenticated(await ask(yoga, { query: mutation, key: 'wrong-key-wrong-key' }));
    expect(await engine.topics()).toEqual([]);
    expect(await engine.auditLog.list()).toEqual([]);
  });
});

describe('rate limits', () => {
  it('should answer RATE_LIMITED (429) with retryAfterMs once a key spent its burst, before executing', async () => {
    const { engine, yoga, seen } = await setup({
      adminKey: ADMIN_KEY,
      engine: { rateLimit: { perSecond: 1, burst: 3 } },
    });
    const { secret } = await engine.apiKeys.create('svc', ['stats']);
    const answers: Answer[] = [];
    for (let i = 0; i < 5; i++) answers.push(await ask(yoga, { key: secret }));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 429, 429]);
    const [error] = answers[3]?.body.errors ?? [];
    expect(error?.extensions?.code).toBe('RATE_LIMITED');
    expect(error?.extensions?.retryAfterMs).toEqual(expect.any(Number));
    expect(Number(error?.extensions?.retryAfterMs)).toBeGreaterThan(0);
    expect(Number(answers[3]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(seen).toHaveLength(3);
    // The admin key has a bucket of its own.
    expect((await ask(yoga, { key: ADMIN_KEY })).status).toBe(200);
  });

  it('should not limit loopback callers without a key', async () => {
    const { yoga } = await setup({ engine: { rateLimit: { perSecond: 1, burst: 1 } } });
    for (let i = 0; i < 5; i++) expect((await ask(yoga)).status).toBe(200);
  });
});
