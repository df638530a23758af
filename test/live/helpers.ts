import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Client, createClient } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../server/config.js';
import { createGateway, type Gateway, type GatewayDeps } from '../../server/gateway.js';
import type { TypedDocument, VariablesArg } from '../helpers/documents.js';
import type { Receiver } from '../helpers/receiver.js';
import { startTestRedis, type TestRedis, uniquePrefix, waitFor } from '../helpers/redis.js';
import type { ChildMessage, ChildRequest } from './fixtures/gateway-child.js';

export interface GraphQLBody<T = Record<string, unknown>> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

/** Settings every test gateway shares: its own key prefix, quiet logs, loopback webhooks allowed. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: '0',
    SWITCHYARD_PREFIX: uniquePrefix(),
    SWITCHYARD_LOG_LEVEL: 'silent',
    SWITCHYARD_SHUTDOWN_TIMEOUT_MS: '10000',
    SWITCHYARD_ALLOW_PRIVATE_WEBHOOKS: 'true',
    ...overrides,
  };
}

/** In-process gateways, stopped by {@link stopAll}. */
export function gatewayPool() {
  const gateways: Gateway[] = [];
  const clients: Client[] = [];
  return {
    async start(redisUrl: string, env: Record<string, string> = {}, deps: GatewayDeps = {}) {
      const config = { ...loadConfig(testEnv(env)), redisUrl };
      const gateway = await createGateway(config, deps);
      gateways.push(gateway);
      const { url } = await gateway.start();
      return { gateway, url, prefix: config.keyPrefix };
    },
    /** The official graphql-ws client against `url`, disposed by stopAll. */
    client(url: string, options: { retryAttempts?: number } = {}): Client {
      const client = createClient({
        url: url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        retryAttempts: options.retryAttempts ?? 0,
        lazy: true,
        // Tests assert on closes they cause; graphql-ws would print them otherwise.
        onNonLazyError: () => {},
      });
      clients.push(client);
      return client;
    },
    async stopAll(): Promise<PromiseSettledResult<void>[]> {
      await Promise.allSettled(clients.splice(0).map((client) => client.dispose()));
      return Promise.allSettled(gateways.splice(0).map((gateway) => gateway.stop()));
    },
  };
}

/**
 * The lifecycle every live test file shares: one redis-server for the file; after each test, every
 * gateway and client of the pool stopped (a failed stop fails the test) and every receiver closed.
 */
export function useLiveGateways() {
  let started: TestRedis | undefined;
  const pool = gatewayPool();
  const receivers: Receiver[] = [];
  beforeAll(async () => {
    started = await startTestRedis();
  });
  afterEach(async () => {
    const stops = await pool.stopAll();
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
    expect(stops.filter((result) => result.status === 'rejected')).toEqual([]);
  });
  afterAll(async () => {
    await started?.stop();
  });
  const redis = {
    get url(): string {
      if (!started) throw new Error('the test redis-server is started in beforeAll');
      return started.url;
    },
  };
  return { pool, redis, receivers };
}

/**
 * POSTs one operation to `url`: a generated document (test/helpers/documents.ts) types the variables
 * and the answer; a string, for requests that must break the schema's types, names its own shape.
 */
export async function gql<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GraphQLBody<T>>;
export async function gql<TResult, TVariables>(
  url: string,
  document: TypedDocument<TResult, TVariables>,
  ...variables: VariablesArg<TVariables>
): Promise<GraphQLBody<TResult>>;
export async function gql(
  url: string,
  document: string | TypedDocument<unknown, unknown>,
  variables?: unknown,
): Promise<GraphQLBody<unknown>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  return (await response.json()) as GraphQLBody<unknown>;
}

/** What {@link dataCaller} answers: a typed document's data, or a string's with the shape it names. */
export interface DataCaller {
  <T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  <TResult, TVariables>(
    document: TypedDocument<TResult, TVariables>,
    ...variables: VariablesArg<TVariables>
  ): Promise<TResult>;
}

/**
 * A GraphQL caller for tests that only want data: posts to `url` with `key` as a Bearer token (none
 * when null) and throws on any error, as {@link dataOf} does.
 */
export function dataCaller(url: string, key: string | null | undefined): DataCaller {
  return async (document: string | TypedDocument<unknown, unknown>, variables?: unknown) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (key) headers.authorization = `Bearer ${key}`;
    const response = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: document.toString(), variables }),
    });
    return dataOf((await response.json()) as GraphQLBody<never>);
  };
}

/** The data of an answer that must have succeeded. */
export function dataOf<T>(body: GraphQLBody<T>): T {
  if (body.errors || body.data == null) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** A subscription's results as they arrive, for waitFor. */
export interface Collected<T> {
  results: T[];
  errors: unknown[];
  completed: boolean;
  /** Completes the subscription (graphql-ws `complete`). */
  stop(): void;
}

/** Collects a subscription's results: a generated document types them, a string names its own. */
export function collect<T = GraphQLBody>(
  client: Client,
  query: string,
  variables?: Record<string, unknown>,
): Collected<T>;
export function collect<TResult, TVariables>(
  client: Client,
  document: TypedDocument<TResult, TVariables>,
  ...variables: VariablesArg<TVariables>
): Collected<GraphQLBody<TResult>>;
export function collect(
  client: Client,
  document: string | TypedDocument<unknown, unknown>,
  variables?: Record<string, unknown>,
): Collected<unknown> {
  const collected: Collected<unknown> = { results: [], errors: [], completed: false, stop: () => {} };
  collected.stop = client.subscribe(
    { query: document.toString(), variables },
    {
      next: (value) => collected.results.push(value),
      error: (error) => collected.errors.push(error),
      complete: () => {
        collected.completed = true;
      },
    },
  );
  return collected;
}

/**
 * Live tails only see what is published after they are established, and the protocol has no
 * "subscribed" acknowledgement: publish warm-up messages until the subscriber has one, bounded.
 */
export async function warmUp(publish: () => Promise<unknown>, seen: () => boolean, timeoutMs = 5_000) {
  await waitFor(
    async () => {
      if (seen()) return true;
      await publish();
      return seen();
    },
    { timeoutMs, intervalMs: 50, message: 'the subscriber never saw a warm-up message' },
  );
}

const CHILD = fileURLToPath(new URL('./fixtures/gateway-child.ts', import.meta.url));

export interface ChildGateway {
  url: string;
  pid: number;
  request<T extends ChildMessage['type']>(
    type: ChildRequest['type'],
  ): Promise<Extract<ChildMessage, { type: T }>>;
  /** Graceful stop; resolves when the process has exited. */
  stop(): Promise<void>;
  exited: Promise<number | null>;
  child: ChildProcess;
}

/** A gateway in a child process (real separate instance) on `redisUrl`. */
export async function spawnGateway(
  redisUrl: string,
  env: Record<string, string>,
  options: { live?: object; websocket?: object } = {},
): Promise<ChildGateway> {
  const child = fork(CHILD, [], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...env,
      REDIS_URL: redisUrl,
      LIVE_OPTIONS: JSON.stringify(options.live ?? {}),
      WEBSOCKET_OPTIONS: JSON.stringify(options.websocket ?? {}),
    },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<Extract<ChildMessage, { type: 'ready' }>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the gateway child did not start in time:\n${stderr}`)),
      20_000,
    );
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message);
      } else if (message.type === 'failed') {
        clearTimeout(timer);
        reject(new Error(message.error));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the gateway child exited with ${code}:\n${stderr}`));
    });
  });
  let next = 0;
  const request = <T extends ChildMessage['type']>(type: ChildRequest['type']) =>
    new Promise<Extract<ChildMessage, { type: T }>>((resolve, reject) => {
      const id = ++next;
      const timer = setTimeout(() => reject(new Error(`the gateway child did not answer ${type}`)), 20_000);
      const onMessage = (message: ChildMessage) => {
        if ('id' in message && message.id === id) {
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(message as Extract<ChildMessage, { type: T }>);
        }
      };
      child.on('message', onMessage);
      child.send({ id, type } satisfies ChildRequest);
    });
  return {
    url: ready.url,
    pid: ready.pid,
    request,
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.connected)
        await request('stop').catch(() => child.kill('SIGKILL'));
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs one query or mutation over a graphql-ws client and answers its single result. */
export function execute<T = Record<string, unknown>>(
  client: Client,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GraphQLBody<T>> {
  return new Promise((resolve, reject) => {
    let result: GraphQLBody<T> | undefined;
    client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          result = value as GraphQLBody<T>;
        },
        error: reject,
        complete: () => (result ? resolve(result) : reject(new Error('no result'))),
      },
    );
  });
}
