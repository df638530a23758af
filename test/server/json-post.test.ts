import { connect } from 'node:net';
import { Readable } from 'node:stream';
import type { Plugin } from 'graphql-yoga';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { createGateway, type Gateway } from '../../server/gateway.js';
import { answerType } from '../../server/json-post.js';
import { startTestRedis, type TestRedis, uniquePrefix, waitFor } from '../helpers/redis.js';

/**
 * The JSON POST path (server/json-post.ts) must answer exactly what yoga answers. Every case here is
 * sent to two gateways on one Redis that differ only in SWITCHYARD_HTTP_FAST_PATH, and the answers
 * are compared; a yoga plugin that counts the requests yoga's own pipeline saw tells which path
 * served each one, so a case cannot pass by quietly falling back to yoga.
 */

const ADMIN_KEY = 'parity-admin-key-0123456789';
const MAX_REQUEST_BYTES = 4096;

interface Served {
  gateway: Gateway;
  url: string;
  /** Requests that went through yoga's pipeline (its onRequest hook), not the JSON POST path. */
  yogaRequests: () => number;
}

let redis: TestRedis;
const gateways: Gateway[] = [];

async function serve(fastPath: boolean, env: Record<string, string> = {}): Promise<Served> {
  let count = 0;
  const counter: Plugin = {
    onRequest() {
      count += 1;
    },
  };
  const config = {
    ...loadConfig({
      PORT: '0',
      SWITCHYARD_PREFIX: uniquePrefix(),
      SWITCHYARD_LOG_LEVEL: 'silent',
      SWITCHYARD_HTTP_FAST_PATH: String(fastPath),
      SWITCHYARD_MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES),
      ...env,
    }),
    redisUrl: redis.url,
  };
  const gateway = await createGateway(config, { version: '0.0.0-test', plugins: [counter] });
  gateways.push(gateway);
  const { url } = await gateway.start();
  return { gateway, url, yogaRequests: () => count };
}

interface Case {
  name: string;
  /** A string is sent with a content-length; an array of chunks is sent chunked. */
  body: string | string[];
  headers?: Record<string, string>;
  /** Which path must serve it when the fast path is on. */
  path: 'fast' | 'yoga';
}

interface Answer {
  status: number;
  headers: Record<string, string | undefined>;
  body: string;
}

/** Headers whose value is part of the contract of an answer (dates and lengths are not compared). */
const COMPARED_HEADERS = ['content-type', 'www-authenticate', 'retry-after', 'allow', 'accept'];

async function send(target: Served, one: Case): Promise<Answer> {
  const body =
    typeof one.body === 'string' ? one.body : Readable.from(one.body.map((chunk) => Buffer.from(chunk)));
  const response = await request(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...one.headers },
    body,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const text = await response.body.text();
  const headers: Record<string, string | undefined> = {};
  for (const name of COMPARED_HEADERS) {
    const value = response.headers[name];
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  // Ids and times differ between two gateways; everything else must not.
  const normalized = text
    .replace(/"(messageId|id|at|createdAt)":"[^"]*"/g, '"$1":"*"')
    .replace(/retry in \d+ ms/g, 'retry in * ms')
    .replace(/"retryAfterMs":\d+/g, '"retryAfterMs":*');
  return { status: response.statusCode, headers, body: normalized };
}

/** Sends the case to both gateways; expects the same answer, served by the expected path. */
async function expectParity(fast: Served, slow: Served, one: Case): Promise<Answer> {
  const before = fast.yogaRequests();
  const viaFast = await send(fast, one);
  const viaYoga = await send(slow, one);
  expect(viaFast, one.name).toEqual(viaYoga);
  expect(fast.yogaRequests() - before, `${one.name}: served by ${one.path}`).toBe(
    one.path === 'yoga' ? 1 : 0,
  );
  return viaFast;
}

const json = (value: unknown) => JSON.stringify(value);
const HEALTH = json({ query: '{ health { ok } }' });
const CREATE_TOPIC = 'mutation { createTopic(input: { name: "parity", kind: FANOUT }) { name kind } }';
const PUBLISH =
  'mutation P($input: PublishInput!) { publish(input: $input) { messageId duplicate routedTo } }';

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await Promise.allSettled(gateways.map((gateway) => gateway.stop()));
  await redis?.stop();
});

describe('the JSON POST path answers what yoga answers', () => {
  let fast: Served;
  let slow: Served;
  beforeAll(async () => {
    [fast, slow] = await Promise.all([serve(true), serve(false)]);
  });

  it('serves queries, mutations and their errors itself', async () => {
    const cases: Case[] = [
      { name: 'admin mutation', body: json({ query: CREATE_TOPIC }), path: 'fast' },
      { name: 'duplicate topic', body: json({ query: CREATE_TOPIC }), path: 'fast' },
      {
        name: 'publish',
        body: json({ query: PUBLISH, variables: { input: { topic: 'parity', payload: { n: 1 } } } }),
        path: 'fast',
      },
      {
        name: 'publish to a missing topic',
        body: json({ query: PUBLISH, variables: { input: { topic: 'nope', payload: {} } } }),
        path: 'fast',
      },
      {
        name: 'variables that do not coerce',
        body: json({ query: PUBLISH, variables: { input: { topic: 7 } } }),
        path: 'fast',
      },
      { name: 'syntax error', body: json({ query: 'mutation {' }), path: 'fast' },
      { name: 'unknown field', body: json({ query: '{ nope }' }), path: 'fast' },
      {
        name: 'unknown field, graphql-response+json',
        body: json({ query: '{ nope }' }),
        headers: { accept: 'application/graphql-response+json' },
        path: 'fast',
      },
      {
        name: 'two operations, none named',
        body: json({ query: 'query A { health { ok } } query B { health { ok } }' }),
        path: 'fast',
      },
      {
        name: 'named operation',
        body: json({ query: 'query A { health { ok } } query B { health { version } }', operationName: 'B' }),
        path: 'fast',
      },
      {
        name: 'unknown operation name',
        body: json({ query: '{ health { ok } }', operationName: 'X' }),
        path: 'fast',
      },
      {
        name: 'null parameters',
        body: json({ query: '{ health { ok } }', variables: null, operationName: null, extensions: null }),
        path: 'fast',
      },
      {
        name: 'too deep',
        body: json({
          query: `{ topics { queues { topic { queues { topic { queues { topic { queues { topic { queues { topic { name } } } } } } } } } } }`,
        }),
        path: 'fast',
      },
      {
        name: 'no accept header',
        body: HEALTH,
        headers: { accept: '' },
        path: 'fast',
      },
      {
        name: 'accept */*',
        body: HEALTH,
        headers: { accept: '*/*' },
        path: 'fast',
      },
      {
        name: 'accept both JSON types',
        body: json({ query: '{ nope }' }),
        headers: { accept: 'application/graphql-response+json, application/json;q=0.9' },
        path: 'fast',
      },
      { name: 'chunked body', body: ['{"query":"{ health', ' { ok } }"}'], path: 'fast' },
      {
        name: 'chunked body over the limit',
        body: [json({ query: `{ health { ok } } #${'x'.repeat(MAX_REQUEST_BYTES)}` })],
        path: 'fast',
      },
    ];
    for (const one of cases) await expectParity(fast, slow, one);
  });

  it('hands everything else to yoga, body and all', async () => {
    const cases: Case[] = [
      { name: 'invalid JSON', body: '{"query":', path: 'yoga' },
      { name: 'not an object', body: '"{ health { ok } }"', path: 'yoga' },
      { name: 'batch', body: json([{ query: '{ health { ok } }' }]), path: 'yoga' },
      { name: 'unexpected parameter', body: json({ query: '{ health { ok } }', extra: 1 }), path: 'yoga' },
      { name: 'query not a string', body: json({ query: 7 }), path: 'yoga' },
      { name: 'no query', body: json({ variables: {} }), path: 'yoga' },
      {
        name: 'variables not an object',
        body: json({ query: '{ health { ok } }', variables: [1] }),
        path: 'yoga',
      },
      { name: 'empty body', body: '', path: 'yoga' },
      { name: 'empty chunked body', body: [''], path: 'yoga' },
      {
        name: 'body over the limit with a length',
        body: json({ query: `{ health { ok } } #${'x'.repeat(MAX_REQUEST_BYTES)}` }),
        path: 'yoga',
      },
      {
        name: 'subscription asking for JSON',
        body: json({ query: 'subscription { messages(topic: "parity") { id } }' }),
        path: 'yoga',
      },
      {
        name: 'a browser origin',
        body: HEALTH,
        headers: { origin: 'http://localhost:3000' },
        path: 'yoga',
      },
      {
        name: 'accept text/html',
        body: HEALTH,
        headers: { accept: 'text/html' },
        path: 'yoga',
      },
      {
        name: 'another charset',
        body: HEALTH,
        headers: { 'content-type': 'application/json; charset=latin1' },
        path: 'yoga',
      },
    ];
    for (const one of cases) await expectParity(fast, slow, one);
  });

  it('streams a subscription handed to yoga when the client accepts anything', async () => {
    const before = fast.yogaRequests();
    const controller = new AbortController();
    const response = await request(fast.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: '*/*' },
      body: json({ query: 'subscription { messages(topic: "parity") { id } }' }),
      signal: controller.signal,
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/event-stream');
    expect(fast.yogaRequests() - before).toBe(1);
    controller.abort();
    await response.body.text().catch(() => undefined);
  });

  it('forgets a request whose client hangs up half way through the body', async () => {
    const { port } = new URL(fast.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      'POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n' +
        'accept: application/json\r\ncontent-length: 100\r\n\r\n{"query":"{ hea',
    );
    await waitFor(() => fast.gateway.inFlight === 1, { message: 'the request never arrived' });
    socket.destroy();
    await waitFor(() => fast.gateway.inFlight === 0, { message: 'the abandoned request stayed in flight' });
    const after = await send(fast, { name: 'after', body: HEALTH, path: 'fast' });
    expect(after.status).toBe(200);
  });

  it('audits admin mutations it serves', async () => {
    const answer = await send(fast, {
      name: 'audit',
      body: json({ query: '{ auditLog(first: 50) { operation outcome } }' }),
      path: 'fast',
    });
    const entries = (
      JSON.parse(answer.body) as { data: { auditLog: { operation: string; outcome: string }[] } }
    ).data.auditLog;
    expect(
      entries.filter((entry) => entry.operation === 'createTopic').map((entry) => entry.outcome),
    ).toEqual(['CONFLICT', 'OK']);
  });
});

describe('authentication and rate limits on the JSON POST path', () => {
  let fast: Served;
  let slow: Served;
  let apiKey: string;
  beforeAll(async () => {
    const env = {
      SWITCHYARD_ADMIN_KEY: ADMIN_KEY,
      SWITCHYARD_RATE_LIMIT_PER_SECOND: '1',
      SWITCHYARD_RATE_LIMIT_BURST: '3',
    };
    [fast, slow] = await Promise.all([serve(true, env), serve(false, env)]);
    // Both gateways share the Redis but not the prefix: each needs its own key with its own bucket.
    const create = json({ query: 'mutation { createApiKey(name: "p", scopes: ["stats"]) { secret } }' });
    const admin = { authorization: `Bearer ${ADMIN_KEY}` };
    const secrets = await Promise.all(
      [fast, slow].map(async (target) => {
        const answer = await send(target, { name: 'key', body: create, headers: admin, path: 'fast' });
        return (JSON.parse(answer.body) as { data: { createApiKey: { secret: string } } }).data.createApiKey
          .secret;
      }),
    );
    // The two secrets differ; the cases below send each gateway its own.
    apiKey = `${secrets[0]}|${secrets[1]}`;
  });

  async function parityWithKey(one: Case, keyed: boolean): Promise<Answer> {
    const [fastKey, slowKey] = apiKey.split('|');
    const with_ = (key: string | undefined): Case =>
      keyed ? { ...one, headers: { ...one.headers, authorization: `Bearer ${key}` } } : one;
    const before = fast.yogaRequests();
    const viaFast = await send(fast, with_(fastKey));
    const viaYoga = await send(slow, with_(slowKey));
    expect(viaFast, one.name).toEqual(viaYoga);
    expect(fast.yogaRequests() - before, one.name).toBe(0);
    return viaFast;
  }

  it('refuses a missing, malformed or unknown key the same way', async () => {
    const query = HEALTH;
    const missing = await parityWithKey({ name: 'no key', body: query, path: 'fast' }, false);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    for (const authorization of ['Basic abc', 'Bearer not-a-key']) {
      const refused = await parityWithKey(
        { name: authorization, body: query, headers: { authorization }, path: 'fast' },
        false,
      );
      expect(refused.status).toBe(401);
    }
  });

  it('applies scopes and charges the rate limit once per request', async () => {
    const forbidden = await parityWithKey(
      { name: 'scope', body: json({ query: CREATE_TOPIC }), path: 'fast' },
      true,
    );
    expect(forbidden.body).toContain('FORBIDDEN');
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const answer = await parityWithKey({ name: `limit ${attempt}`, body: HEALTH, path: 'fast' }, true);
      statuses.push(answer.status);
      if (answer.status === 429) expect(answer.headers['retry-after']).toBe('1');
    }
    // A burst of 3, one spent on the scope refusal: two more pass, then 429s.
    expect(statuses).toEqual([200, 200, 429, 429]);
  });

  it('refuses a keyless request that names another host in protected mode', async () => {
    const [open, closed] = await Promise.all([serve(true), serve(false)]);
    const one: Case = {
      name: 'rebinding',
      body: HEALTH,
      headers: { host: 'evil.example:4000' },
      path: 'fast',
    };
    const before = open.yogaRequests();
    const viaFast = await send(open, one);
    expect(viaFast).toEqual(await send(closed, one));
    expect(viaFast.status).toBe(401);
    expect(open.yogaRequests()).toBe(before);
  });
});

describe('answerType', () => {
  it.each([
    [undefined, 'application/json'],
    ['*/*', 'application/json'],
    ['application/json', 'application/json'],
    ['application/json; charset=utf-8', 'application/json'],
    ['application/graphql-response+json, application/json', 'application/graphql-response+json'],
    ['application/json, application/graphql-response+json', 'application/json'],
    ['application/json; charset=latin1', null],
    ['text/event-stream', null],
    ['application/json, text/event-stream', null],
    ['multipart/mixed', null],
  ])('%s answers %s', (accept, expected) => {
    expect(answerType(accept)).toBe(expected);
  });
});
