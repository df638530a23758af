import { performance } from 'node:perf_hooks';
import { getIntrospectionQuery } from 'graphql';
import { describe, expect, it } from 'vitest';
import { GRAPHIQL_EXAMPLES } from '../../server/yoga.js';
import { ADMIN_KEY, codeOf, dataOf, post, useGateways } from './gateway-harness.js';

const gateways = useGateways();
const KEYS_MODE = { SWITCHYARD_ADMIN_KEY: ADMIN_KEY };

describe('start', () => {
  it('should say whom it serves: loopback only without an admin key, keys only with one', async () => {
    const open = await gateways.start();
    expect(open.logs.join('\n')).toMatch(/Auth: protected mode, serving loopback clients only/);
    const keyed = await gateways.start(KEYS_MODE);
    expect(keyed.logs.join('\n')).toMatch(/Auth: an API key is required for every request/);
    expect(keyed.logs.join('\n')).not.toContain(ADMIN_KEY);
  });
});

describe('over HTTP, with SWITCHYARD_ADMIN_KEY set', () => {
  it('should answer 401 UNAUTHENTICATED without a key and serve the admin key and API keys', async () => {
    const { gateway, url } = await gateways.start(KEYS_MODE);
    const anonymous = await post(url, '{ topics { name } }');
    expect(anonymous.status).toBe(401);
    expect(codeOf(anonymous)).toBe('UNAUTHENTICATED');
    expect(dataOf(await post(url, '{ topics { name } }', { key: ADMIN_KEY }))).toEqual({ topics: [] });

    const { key, secret } = await gateway.engine.apiKeys.create('reader', ['stats']);
    expect(dataOf(await post(url, '{ health { ok } }', { key: secret }))).toEqual({ health: { ok: true } });
    await gateway.engine.apiKeys.revoke(key.id);
    expect(codeOf(await post(url, '{ health { ok } }', { key: secret }))).toBe('UNAUTHENTICATED');
  });

  it('should hold a key to one rate limit across two gateways on one Redis', async () => {
    const env = {
      ...KEYS_MODE,
      SWITCHYARD_PREFIX: `rl${Date.now().toString(36)}`,
      SWITCHYARD_RATE_LIMIT_PER_SECOND: '1',
      SWITCHYARD_RATE_LIMIT_BURST: '4',
    };
    const one = await gateways.start(env);
    const other = await gateways.start(env);
    const { secret } = await one.gateway.engine.apiKeys.create('busy', ['stats']);
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 8; i++) {
      const answer = await post(i % 2 === 0 ? one.url : other.url, '{ health { ok } }', { key: secret });
      statuses.push(answer.status);
      if (answer.status === 429) limited ??= answer;
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
    expect(limited && codeOf(limited)).toBe('RATE_LIMITED');
    expect(limited?.body.errors?.[0]?.extensions?.retryAfterMs).toEqual(expect.any(Number));
    expect(limited?.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('should refuse depth, cost and alias attacks fast, before anything runs', async () => {
    const { gateway, url } = await gateways.start(KEYS_MODE);
    let deep = 'name';
    for (let i = 0; i < 40; i++) deep = `ofType { ${deep} }`;
    const aliases = Array.from(
      { length: 200 },
      (_, i) => `t${i}: createTopic(input: { name: "t${i}", kind: FANOUT }) { name }`,
    ).join(' ');
    // Cost: one fragment spread many times over, each spread paying the fragment's full price.
    const spreads = '...Q '.repeat(300);
    const fragment = 'fragment Q on Queue { name topic url paused retry { maxAttempts delayMs } }';
    const attacks = {
      depth: `{ __type(name: "Query") { fields { type { ${deep} } } } }`,
      aliases: `mutation { ${aliases} }`,
      cost: `{ topics { queues { ${spreads} } } } ${fragment}`,
      tokens: `{ ${'__typename '.repeat(20_000)} }`,
    };
    const expected = {
      depth: /Query depth limit of 12 exceeded/,
      aliases: /Aliases limit of 100 exceeded/,
      cost: /Cost limit of 5000 exceeded/,
      tokens: /Token limit of 10000 exceeded/,
    };
    for (const [name, query] of Object.entries(attacks)) {
      const started = performance.now();
      const answer = await post(url, query, { key: ADMIN_KEY });
      const ms = performance.now() - started;
      expect(answer.body.errors?.length, name).toBeGreaterThan(0);
      expect(answer.body.errors?.[0]?.message, name).toMatch(expected[name as keyof typeof expected]);
      expect(new Set(answer.body.errors?.map((error) => error.extensions?.code)), name).toEqual(
        new Set(['BAD_USER_INPUT']),
      );
      expect(answer.body.data, name).toBeUndefined();
      expect(ms, `${name} took ${ms} ms`).toBeLessThan(500);
    }
    expect(await gateway.engine.topics()).toEqual([]);
  });

  it("should let GraphiQL's examples and its introspection query through the default limits", async () => {
    const { url } = await gateways.start(KEYS_MODE);
    const introspection = await post(url, getIntrospectionQuery({ descriptions: true }), { key: ADMIN_KEY });
    expect(introspection.body.errors).toBeUndefined();
    const examples = await post(url, GRAPHIQL_EXAMPLES, {
      key: ADMIN_KEY,
      operationName: 'Topology',
    });
    expect(examples.body.errors).toBeUndefined();
  });

  it('should refuse a body over the limit with 413 PAYLOAD_TOO_LARGE', async () => {
    const { url } = await gateways.start({ ...KEYS_MODE, SWITCHYARD_MAX_REQUEST_BYTES: '4096' });
    const answer = await post(url, '{ health { ok } }', {
      key: ADMIN_KEY,
      variables: { pad: 'x'.repeat(5_000) },
    });
    expect(answer.status).toBe(413);
    expect(codeOf(answer)).toBe('PAYLOAD_TOO_LARGE');
    expect(answer.body.errors?.[0]?.message).toMatch(/larger than 4096 bytes/);
    expect(dataOf(await post(url, '{ health { ok } }', { key: ADMIN_KEY }))).toEqual({
      health: { ok: true },
    });
  });

  it('should refuse a publishBatch over the configured maximum whole', async () => {
    const { gateway, url } = await gateways.start({ ...KEYS_MODE, SWITCHYARD_MAX_BATCH: '3' });
    await gateway.engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const inputs = Array.from({ length: 4 }, (_, n) => ({ topic: 'orders', payload: { n } }));
    const batch = 'mutation ($inputs: [PublishInput!]!) { publishBatch(inputs: $inputs) { messageId } }';
    const answer = await post(url, batch, { key: ADMIN_KEY, variables: { inputs } });
    expect(codeOf(answer)).toBe('BAD_USER_INPUT');
    expect(answer.body.errors?.[0]?.message).toBe('publishBatch takes at most 3 messages, got 4');
    expect((await gateway.engine.topicStats('orders')).published).toBe(0);
    const ok = await post(url, batch, { key: ADMIN_KEY, variables: { inputs: inputs.slice(0, 3) } });
    expect(dataOf(ok).publishBatch).toHaveLength(3);
  });
});

describe('browsers', () => {
  async function preflight(url: string, origin: string) {
    const response = await fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization',
      },
    });
    return response.headers.get('access-control-allow-origin');
  }

  it('should allow loopback and configured origins cross-origin, and no others', async () => {
    const { url } = await gateways.start({ SWITCHYARD_CORS_ORIGINS: 'https://dash.example.com' });
    expect(await preflight(url, 'https://dash.example.com')).toBe('https://dash.example.com');
    expect(await preflight(url, 'http://localhost:5173')).toBe('http://localhost:5173');
    expect(await preflight(url, 'https://evil.example')).toBeNull();
  });

  it('should switch introspection, field suggestions and GraphiQL off by setting', async () => {
    const { url } = await gateways.start({ SWITCHYARD_INTROSPECTION: 'false', SWITCHYARD_GRAPHIQL: 'false' });
    const introspection = await post(url, '{ __schema { types { name } } }');
    expect(introspection.body.errors?.[0]?.message).toMatch(/introspection has been disabled/);
    expect(introspection.body.errors?.every((error) => error.extensions?.code === 'BAD_USER_INPUT')).toBe(
      true,
    );
    const typo = await post(url, '{ topicz { name } }');
    expect(typo.body.errors?.[0]?.message).not.toMatch(/Did you mean/);
    const page = await fetch(url, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/graphiql/i);

    const { url: open } = await gateways.start();
    expect(dataOf(await post(open, '{ __schema { queryType { name } } }'))).toEqual({
      __schema: { queryType: { name: 'Query' } },
    });
  });
});

describe('audit log', () => {
  it('should record admin mutations with key, redacted arguments and outcome, and not data-plane ones', async () => {
    const { gateway, url } = await gateways.start(KEYS_MODE);
    const receiver = await gateways.receiver();
    const hook = `${receiver.url}?token=s3cr3t`;
    dataOf(
      await post(url, 'mutation { createTopic(input: { name: "orders", kind: FANOUT }) { name } }', {
        key: ADMIN_KEY,
      }),
    );
    dataOf(
      await post(
        url,
        'mutation ($url: String!) { createQueue(input: { topic: "orders", name: "billing", target: WEBHOOK, url: $url }) { name } }',
        { key: ADMIN_KEY, variables: { url: hook } },
      ),
    );
    expect(codeOf(await post(url, 'mutation { deleteTopic(name: "nope") }', { key: ADMIN_KEY }))).toBe(
      'NOT_FOUND',
    );
    dataOf(
      await post(url, 'mutation { publish(input: { topic: "orders", payload: {} }) { messageId } }', {
        key: ADMIN_KEY,
      }),
    );

    const answer = await post(
      url,
      '{ auditLog(first: 10) { keyId keyName operation arguments outcome error at } }',
      {
        key: ADMIN_KEY,
      },
    );
    const entries = dataOf(answer).auditLog as Array<Record<string, unknown>>;
    expect(entries.map((entry) => [entry.operation, entry.outcome])).toEqual([
      ['deleteTopic', 'NOT_FOUND'],
      ['createQueue', 'OK'],
      ['createTopic', 'OK'],
    ]);
    expect(entries[0]).toMatchObject({
      keyId: 'admin',
      keyName: 'SWITCHYARD_ADMIN_KEY',
      error: 'Topic nope does not exist',
    });
    expect(entries[1]?.arguments).toEqual({
      input: {
        topic: 'orders',
        name: 'billing',
        target: 'WEBHOOK',
        url: `${new URL(receiver.url).origin}/…`,
      },
    });
    expect(JSON.stringify(entries)).not.toContain('s3cr3t');

    const { key, secret } = await gateway.engine.apiKeys.create('reader', ['stats']);
    expect(codeOf(await post(url, '{ auditLog { operation } }', { key: secret }))).toBe('FORBIDDEN');
    // A refused admin mutation is audited as refused, and changes nothing.
    const attempt = await post(url, 'mutation { deleteTopic(name: "orders") }', { key: secret });
    expect(codeOf(attempt)).toBe('FORBIDDEN');
    expect((await gateway.engine.topics()).map((topic) => topic.name)).toEqual(['orders']);
    const [latest] = await gateway.engine.auditLog.list(1);
    expect(latest).toMatchObject({
      keyId: key.id,
      keyName: 'reader',
      operation: 'deleteTopic',
      outcome: 'FORBIDDEN',
      error: 'Forbidden: Mutation.deleteTopic needs the scope admin',
    });
  });
});
