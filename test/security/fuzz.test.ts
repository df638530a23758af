import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ErrorCode } from '../../queues/core/errors.js';
import { createKeys } from '../../queues/redis/keys.js';
import { startTestRedis, type TestRedis, uniquePrefix } from '../helpers/redis.js';
import { type ChildGateway, spawnGateway, testEnv } from '../live/helpers.js';
import {
  type Credential,
  type HttpCase,
  httpCases,
  type SocketCase,
  socketCases,
} from './fuzz-arbitraries.js';

/**
 * Random and malformed requests against a gateway in a process of its own, over loopback: GraphQL
 * documents built from the schema's names and then damaged, odd variables, JSON bodies of any shape,
 * GET requests, and websocket frames. The gateway must stay up, answer every one with a well-formed
 * GraphQL result or error carrying a contract code (or close a socket with a documented code), and
 * Redis must hold nothing new: the only key these requests carry is read-only, and the admin key only
 * sends documents that cannot pass validation.
 */

const ADMIN_KEY = 'fuzz-admin-key-0123456789abcdef';
/**
 * Fixed, so that every run sends the same requests and a failure can be replayed; set FUZZ_SEED to
 * explore others (the seed is in every failure message).
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_207);
const HTTP_RUNS = 9_000;
const SOCKET_RUNS = 700;
/** Requests and frames that must have been sent: at least 10,000 in all. */
const MIN_SENT = 10_000;
/**
 * The run ends when its samples are spent (10-30 s here), whatever the machine's speed: what it
 * asserts never depends on time. This only bounds a hung run, which then fails naming the seed.
 */
const TIME_BUDGET_MS = 240_000;
const HTTP_CONCURRENCY = 16;
const SOCKET_CONCURRENCY = 16;
/** How long each fuzzed socket lives; past the connection_init timeout, so a silent one sees 4408. */
const SOCKET_LIFETIME_MS = 250;
const CODES: ReadonlySet<unknown> = new Set(Object.values(ErrorCode));
/** Close codes a client may see (docs/PROTOCOL.md); 4500 would be a server error, 1006 a crash. */
const CLOSE_CODES = new Set([1000, 1001, 1013, 4400, 4401, 4403, 4406, 4408, 4409, 4413, 4429]);

const PREFIX = uniquePrefix();
const KEYS = createKeys(PREFIX);
/**
 * Idle connections are dropped by the client after 1 s, well before the gateway's 5 s keep-alive: on a
 * loaded machine a connection reused just as the server closes it fails ("other side closed"), which
 * is the client's race, not the gateway's answer.
 */
const dispatcher = new Agent({ keepAliveTimeout: 1_000, keepAliveMaxTimeout: 1_000 });
let redis: TestRedis;
let gateway: ChildGateway;
let limitedKey = '';

beforeAll(async () => {
  redis = await startTestRedis();
  gateway = await spawnGateway(
    redis.url,
    testEnv({
      SWITCHYARD_PREFIX: PREFIX,
      SWITCHYARD_ADMIN_KEY: ADMIN_KEY,
      SWITCHYARD_RATE_LIMIT_PER_SECOND: '0',
      SWITCHYARD_WS_INIT_TIMEOUT_MS: '100',
      SWITCHYARD_WS_MAX_CONNECTIONS_PER_KEY: '1000',
    }),
  );
}, 30_000);

afterAll(async () => {
  await gateway?.stop();
  await redis?.stop();
  await dispatcher.close();
});

async function admin(query: string): Promise<Record<string, unknown>> {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown };
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data ?? {};
}

function authorization(credential: Credential): string | null {
  if (credential === 'none') return null;
  if (credential === 'malformed') return 'Basic Zm9vOmJhcg==';
  if (credential === 'unknown') return `Bearer sy_${'A'.repeat(43)}`;
  return `Bearer ${credential === 'admin' ? ADMIN_KEY : limitedKey}`;
}

/** What the admin key may send: a second anonymous operation makes any document fail validation. */
const unrunnable = (query: unknown) => (typeof query === 'string' ? `${query}\n{ __typename }` : query);

/** Everything in Redis, key by key, as a digest of its DUMP; the audit stream is compared on its own. */
async function snapshot(client: Redis, skip: (key: string) => boolean): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  let cursor = '0';
  for (let round = 0; round < 10_000; round++) {
    const [next, keys] = await client.scan(cursor, 'COUNT', 500);
    for (const key of keys) {
      if (skip(key)) continue;
      // Hashes (jobs, the registry) field by field, so a failure can say which field changed.
      if ((await client.type(key)) === 'hash') {
        const fields = Object.entries(await client.hgetall(key)).sort(([a], [b]) => a.localeCompare(b));
        entries.set(key, JSON.stringify(fields));
        continue;
      }
      const dumped = await client.dumpBuffer(key);
      entries.set(key, dumped ? createHash('sha256').update(dumped).digest('hex') : 'gone');
    }
    cursor = next;
    if (cursor === '0') return entries;
  }
  throw new Error('SCAN did not finish');
}

/** Why an answer is not a well-formed GraphQL result or error with a contract code; null when it is. */
function problemWithResult(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const { data, errors } = value as { data?: unknown; errors?: unknown };
  if (data === undefined && errors === undefined) return 'neither data nor errors';
  if (data !== undefined && data !== null && typeof data !== 'object') return 'data is not an object';
  if (errors === undefined) return null;
  return problemWithErrors(errors);
}

function problemWithErrors(errors: unknown): string | null {
  if (!Array.isArray(errors) || errors.length === 0) return 'errors is not a non-empty array';
  for (const error of errors as Array<{ message?: unknown; extensions?: { code?: unknown } }>) {
    if (typeof error?.message !== 'string') return 'an error without a message';
    if (!CODES.has(error.extensions?.code)) return `an error with code ${String(error.extensions?.code)}`;
  }
  return null;
}

async function sendHttp(sample: HttpCase): Promise<string | null> {
  const headers: Record<string, string> = { accept: 'application/graphql-response+json, application/json' };
  const auth = authorization(
    sample.credential === 'admin' && sample.kind === 'raw' ? 'limited' : sample.credential,
  );
  if (auth) headers.authorization = auth;
  let response: Awaited<ReturnType<typeof fetch>>;
  if (sample.kind === 'get') {
    response = await fetch(`${gateway.url}${sample.search}`, {
      headers,
      dispatcher,
      signal: AbortSignal.timeout(10_000),
    });
  } else {
    const body =
      sample.kind === 'raw'
        ? sample.body
        : JSON.stringify({
            query: sample.credential === 'admin' ? unrunnable(sample.query) : sample.query,
            variables: sample.variables,
            operationName: sample.operationName,
          });
    headers['content-type'] = sample.kind === 'raw' ? sample.contentType : 'application/json';
    response = await fetch(gateway.url, {
      method: 'POST',
      headers,
      body,
      dispatcher,
      signal: AbortSignal.timeout(10_000),
    });
  }
  const text = await response.text();
  const where = `${response.status} ${text.slice(0, 300)} for ${JSON.stringify(sample).slice(0, 300)}`;
  if (response.status >= 500) return `status ${where}`;
  if (!(response.headers.get('content-type') ?? '').includes('json')) return `content-type ${where}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return `unparsable ${where}`;
  }
  const problem = problemWithResult(parsed);
  return problem ? `${problem}: ${where}` : null;
}

/** Opens a socket, runs a case's frames, and answers the problems seen and how many frames were sent. */
function runSocket(sample: SocketCase): Promise<{ problems: string[]; sent: number }> {
  const problems: string[] = [];
  let sent = 0;
  const socket = new WebSocket(gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const credential = sample.init.kind === 'payload' ? sample.init.credential : 'none';
  const send = (frame: string) => {
    if (socket.readyState !== socket.OPEN) return;
    socket.send(frame);
    sent += 1;
  };
  const frames = sample.frames.map((frame) => (credential === 'admin' ? neutered(frame) : frame));
  const accepted = sample.init.kind === 'payload' && (credential === 'limited' || credential === 'admin');
  return new Promise((resolve) => {
    let closedByUs = false;
    let finish: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      problems.push('the socket did not open');
      socket.terminate();
    }, 5_000);
    socket.on('open', () => {
      clearTimeout(giveUp);
      // Bounded: every socket is closed by us once its frames had time to be answered.
      finish = setTimeout(() => {
        closedByUs = true;
        socket.close(1000);
      }, SOCKET_LIFETIME_MS);
      if (sample.init.kind === 'garbage') send(sample.init.frame);
      if (sample.init.kind === 'payload') {
        const key = authorization(sample.init.credential)?.replace(/^Bearer /, '');
        const payload = key ? { apiKey: key, extra: sample.init.extra } : { extra: sample.init.extra };
        send(JSON.stringify({ type: 'connection_init', payload }));
      }
      // A socket that will not be acknowledged sends its frames at once: subscribing before the ack
      // is a protocol violation of its own (4401), racing the refusal.
      if (!accepted) for (const frame of frames) send(frame);
    });
    socket.on('message', (data) => {
      let message: { type?: unknown; payload?: unknown };
      try {
        message = JSON.parse(String(data));
      } catch {
        problems.push(`unparsable frame ${String(data).slice(0, 200)}`);
        return;
      }
      if (message.type === 'connection_ack') {
        if (accepted) for (const frame of frames) send(frame);
      } else if (message.type === 'next') {
        const problem = problemWithResult(message.payload);
        if (problem) problems.push(`next: ${problem}: ${String(data).slice(0, 300)}`);
      } else if (message.type === 'error') {
        const problem = problemWithErrors(message.payload);
        if (problem) problems.push(`error: ${problem}: ${String(data).slice(0, 300)}`);
      } else if (!['complete', 'ping', 'pong'].includes(String(message.type))) {
        problems.push(`unknown frame ${String(data).slice(0, 200)}`);
      }
    });
    socket.on('error', (error) => problems.push(`socket error ${error.message}`));
    socket.on('close', (code, reason) => {
      clearTimeout(finish);
      clearTimeout(giveUp);
      if (!CLOSE_CODES.has(code) || (code === 1000 && !closedByUs)) {
        problems.push(`close ${code} ${String(reason)} after ${JSON.stringify(sample).slice(0, 300)}`);
      }
      resolve({ problems, sent });
    });
  });
}

/** An admin socket's subscribe frames carry only documents that fail validation. */
function neutered(frame: string): string {
  try {
    const message = JSON.parse(frame) as { type?: unknown; payload?: { query?: unknown } };
    if (message?.type !== 'subscribe') return frame;
    const query = typeof message.payload?.query === 'string' ? message.payload.query : '';
    return JSON.stringify({ ...message, payload: { ...message.payload, query: unrunnable(query) } });
  } catch {
    return frame;
  }
}

/** Runs `work` over every item, `concurrency` at a time; throws if the deadline passes first. */
async function pool<T>(
  items: readonly T[],
  concurrency: number,
  deadline: number,
  work: (item: T) => Promise<void>,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      if (Date.now() > deadline)
        throw new Error(`seed ${SEED}: ${items.length - next} items left at the deadline`);
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

describe('fuzzing a running gateway', () => {
  it('should stay up, answer every request and frame well-formed, and store nothing', async () => {
    const created = await admin(
      'mutation { createTopic(input: { name: "orders.eu", kind: TOPIC }) { name } ' +
        'createQueue(input: { topic: "orders.eu", name: "work", bindingKey: "#", target: CONSUMER }) { name } ' +
        'createApiKey(name: "fuzz", scopes: ["stats", "subscribe:#", "deadletters:read:#"]) { secret } }',
    );
    limitedKey = (created.createApiKey as { secret: string }).secret;
    await admin('mutation { publish(input: { topic: "orders.eu", payload: { n: 1 } }) { messageId } }');
    // First use writes lastUsedAt; do it before the snapshot.
    await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${limitedKey}` },
      body: JSON.stringify({ query: '{ health { ok } }' }),
    });

    const client = redis.client();
    // lastUsedAt is the gateway's note of a key's use; the audit stream is checked entry by entry below.
    const volatile = (key: string) => key === KEYS.apiKeyLastUsed || key === KEYS.auditLog;
    const before = await snapshot(client, volatile);
    const auditBefore = await client.xlen(KEYS.auditLog);

    const deadline = Date.now() + TIME_BUDGET_MS;
    const problems: string[] = [];
    let sent = 0;
    const httpSamples = fc.sample(httpCases, { numRuns: HTTP_RUNS, seed: SEED });
    const socketSamples = fc.sample(socketCases, { numRuns: SOCKET_RUNS, seed: SEED + 1 });
    await Promise.all([
      pool(httpSamples, HTTP_CONCURRENCY, deadline, async (sample) => {
        sent += 1;
        const problem = await sendHttp(sample).catch(
          (error: Error) =>
            `request failed: ${error.message} ${String((error.cause as Error | undefined)?.message ?? '')} for ${JSON.stringify(sample).slice(0, 400)}`,
        );
        if (problem) problems.push(problem);
      }),
      pool(socketSamples, SOCKET_CONCURRENCY, deadline, async (sample) => {
        const outcome = await runSocket(sample);
        sent += outcome.sent;
        problems.push(...outcome.problems);
      }),
    ]);

    expect(problems.slice(0, 10), `seed ${SEED}: ${problems.length} problems`).toEqual([]);
    expect(sent, `seed ${SEED}: only ${sent} sent`).toBeGreaterThanOrEqual(MIN_SENT);
    expect(gateway.child.exitCode).toBeNull();
    const health = await fetch(gateway.url.replace(/\/graphql$/, '/health'));
    expect(health.status).toBe(200);

    const after = await snapshot(client, volatile);
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter(
      (key) => before.get(key) !== after.get(key),
    );
    const diff = changed.map(
      (key) => `${key}: ${before.get(key)?.slice(0, 600)} -> ${after.get(key)?.slice(0, 600)}`,
    );
    expect(changed, `seed ${SEED}: ${diff.join('\n')}`).toEqual([]);
    // Refused admin mutations are audited (that is what the log is for), never as done.
    const audited = await client.xrange(KEYS.auditLog, '-', '+');
    const outcomes = audited
      .slice(auditBefore)
      .map(([, fields]) => (JSON.parse(fields[1] ?? '{}') as { outcome?: string }).outcome);
    expect(outcomes.filter((outcome) => outcome === 'OK')).toEqual([]);
  }, 200_000);
});
