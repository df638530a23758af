import { createClient } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../server/config.js';
import { createGateway, type Gateway, type GatewayDeps } from '../../server/gateway.js';
import { createLogger } from '../../server/logger.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { startTestRedis, type TestRedis, uniquePrefix } from '../helpers/redis.js';

export const ADMIN_KEY = 'gateway-admin-key-0123456789abcdef';

export interface Started {
  gateway: Gateway;
  url: string;
  /** Every log line the gateway wrote (pino JSON, level trace). */
  logs: string[];
  keyPrefix: string;
}

export interface GraphQLAnswer {
  status: number;
  headers: Headers;
  body: {
    data?: Record<string, unknown> | null;
    errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  };
}

/**
 * Real listening gateways on 127.0.0.1 over one redis-server per file, stopped after each test; and
 * loopback receivers. What a client sees over the network, nothing faked.
 */
export function useGateways() {
  let redis: TestRedis | undefined;
  const gateways: Gateway[] = [];
  const receivers: Receiver[] = [];
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterEach(async () => {
    const stops = await Promise.allSettled(gateways.splice(0).map((gateway) => gateway.stop()));
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
    expect(stops.filter((stop) => stop.status === 'rejected')).toEqual([]);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  return {
    get redis(): TestRedis {
      if (!redis) throw new Error('call inside a test');
      return redis;
    },
    /** A gateway with the given environment on top of test defaults (own prefix unless given). */
    async start(env: Record<string, string> = {}, deps: GatewayDeps = {}): Promise<Started> {
      if (!redis) throw new Error('call inside a test');
      const keyPrefix = env.SWITCHYARD_PREFIX ?? uniquePrefix();
      const config = loadConfig({
        PORT: '0',
        SWITCHYARD_LOG_LEVEL: 'trace',
        SWITCHYARD_SHUTDOWN_TIMEOUT_MS: '10000',
        ...env,
        SWITCHYARD_PREFIX: keyPrefix,
      });
      const logs: string[] = [];
      const logger = createLogger({
        level: 'trace',
        destination: { write: (line: string) => logs.push(line) },
      });
      const gateway = await createGateway({ ...config, redisUrl: redis.url }, { logger, ...deps });
      gateways.push(gateway);
      const { url } = await gateway.start();
      return { gateway, url, logs, keyPrefix };
    },
    async receiver(): Promise<Receiver> {
      const receiver = await startReceiver();
      receivers.push(receiver);
      return receiver;
    },
  };
}

/** POSTs a GraphQL request over the network, with a key when given. */
export async function post(
  url: string,
  query: string,
  options: {
    key?: string;
    variables?: Record<string, unknown>;
    headers?: Record<string, string>;
    operationName?: string;
  } = {},
): Promise<GraphQLAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables: options.variables, operationName: options.operationName }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as GraphQLAnswer['body'],
  };
}

/** The data of an answer that must have succeeded. */
export function dataOf(answer: GraphQLAnswer): Record<string, unknown> {
  expect(answer.body.errors, JSON.stringify(answer.body.errors)).toBeUndefined();
  if (!answer.body.data) throw new Error('no data');
  return answer.body.data;
}

/** The code of the single error of a refused answer. */
export function codeOf(answer: GraphQLAnswer): unknown {
  expect(answer.body.errors, JSON.stringify(answer.body)).toHaveLength(1);
  return answer.body.errors?.[0]?.extensions?.code;
}

/** The first result of one operation over graphql-ws, with the given connection_init payload. */
export async function overWebSocket(
  url: string,
  query: string,
  connectionParams?: Record<string, unknown>,
): Promise<GraphQLAnswer['body']> {
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams,
  });
  const results = client.iterate({ query });
  try {
    const first = await results.next();
    return first.value as GraphQLAnswer['body'];
  } finally {
    await results.return?.();
    await client.dispose();
  }
}

export type RawConnect = { acked: true; socket: WebSocket } | { acked: false; code: number; reason: string };

/**
 * A raw graphql-transport-ws socket: sends `connection_init` with `payload` (nothing when undefined
 * and `init` is false) and answers the ack, or the close code and reason the server answered with.
 */
export function connectRaw(
  url: string,
  payload?: unknown,
  options: { init?: boolean; headers?: Record<string, string> } = {},
): Promise<RawConnect> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws', {
    headers: options.headers,
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () => {
      if (options.init === false) return;
      socket.send(
        JSON.stringify(
          payload === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload },
        ),
      );
    });
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string };
      if (message.type === 'connection_ack') resolve({ acked: true, socket });
    });
    socket.once('close', (code, reason) => resolve({ acked: false, code, reason: String(reason) }));
  });
}

/** Resolves with the close code and reason once the socket closes. */
export function closeOf(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    if (socket.readyState === socket.CLOSED) resolve({ code: -1, reason: 'already closed' });
    socket.once('close', (code, reason) => resolve({ code, reason: String(reason) }));
  });
}
