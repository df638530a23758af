/**
 * The clients of the fault suite: GraphQL over HTTP with a deadline, and the two kinds of consumer
 * (websocket `consume` through graphql-ws's own client, and HTTP `receive`), both acking what they get.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ADMIN_KEY } from './processes.js';

export interface GraphQLError {
  message: string;
  extensions?: { code?: string; outcome?: string };
}

/** What one HTTP request got: an answer (any status), or no answer at all (`network`). */
export type Answer =
  | {
      kind: 'answer';
      status: number;
      headers: Headers;
      data: Record<string, unknown> | null;
      errors: GraphQLError[];
      ms: number;
    }
  | { kind: 'network'; error: string; ms: number };

/** One GraphQL request over HTTP, never longer than `timeoutMs`; network failures are answered, not thrown. */
export async function gql(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  timeoutMs = 10_000,
): Promise<Answer> {
  const started = performance.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let body: { data?: Record<string, unknown> | null; errors?: GraphQLError[] } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = { errors: [{ message: `not JSON: ${text.slice(0, 200)}` }] };
    }
    return {
      kind: 'answer',
      status: response.status,
      headers: response.headers,
      data: body.data ?? null,
      errors: body.errors ?? [],
      ms: performance.now() - started,
    };
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return {
      kind: 'network',
      error: `${error instanceof Error ? error.message : String(error)}${cause}`,
      ms: performance.now() - started,
    };
  }
}

/** The data of an answer that must have succeeded; throws with what came instead. */
export async function gqlOk(url: string, query: string, variables: Record<string, unknown> = {}) {
  const answer = await gql(url, query, variables);
  if (answer.kind !== 'answer' || answer.errors.length > 0 || !answer.data) {
    throw new Error(`GraphQL request failed: ${JSON.stringify(answer)}`);
  }
  return answer.data;
}

/** The first error code of an answer ('NETWORK' when there was no answer, null when it succeeded). */
export function codeOf(answer: Answer): string | null {
  if (answer.kind === 'network') return 'NETWORK';
  if (answer.errors.length === 0) return null;
  // The gateway could not learn whether Redis stored it (an answer lost in transit): like no answer.
  if (answer.errors[0]?.extensions?.outcome === 'UNKNOWN') return 'OUTCOME_UNKNOWN';
  return answer.errors[0]?.extensions?.code ?? 'NO_CODE';
}

/** One delivery a consumer got. */
export interface Got {
  messageId: string;
  seq: number;
  attempt: number;
  at: number;
  acked: boolean;
}

export interface Consumer {
  readonly got: Got[];
  /** Close codes of the websocket, in order (websocket consumers only), and when each came. */
  readonly closes: number[];
  readonly closedAt: number[];
  /** Errors the subscription reported (websocket consumers only). */
  readonly errors: string[];
  /** Stop acking (deliveries are then left unacked), or start again. */
  setAcking(acking: boolean): void;
  stop(): Promise<void>;
}

interface DeliveryShape {
  id: string;
  attempt: number;
  message: { id: string; payload: { seq?: number } };
}

const DELIVERY_FIELDS = 'id attempt message { id payload }';

/** Acks `deliveryId` on the first of `urls` that answers; true when acked. */
async function ack(urls: readonly string[], deliveryId: string): Promise<boolean> {
  for (const url of urls) {
    const answer = await gql(url, 'mutation ($id: ID!) { ack(deliveryId: $id) }', { id: deliveryId }, 5_000);
    if (answer.kind === 'answer' && answer.data?.ack === true) return true;
    // NOT_FOUND: already settled or past deliverBy; it will come again, no point in another instance.
    if (codeOf(answer) === 'NOT_FOUND') return false;
  }
  return false;
}

function record(got: Got[], delivery: DeliveryShape): Got {
  const entry = {
    messageId: delivery.message.id,
    seq: typeof delivery.message.payload.seq === 'number' ? delivery.message.payload.seq : -1,
    attempt: delivery.attempt,
    at: Date.now(),
    acked: false,
  };
  got.push(entry);
  return entry;
}

/**
 * A `consume` subscriber through graphql-ws's createClient, reconnecting by itself (as a real client
 * with `retryAttempts` does) to `wsUrl` while it is down; acks each delivery over HTTP on `ackUrls`.
 */
export function startWebSocketConsumer(options: {
  wsUrl: string;
  ackUrls: readonly string[];
  topic: string;
  queue: string;
  prefetch: number;
}): Consumer {
  const got: Got[] = [];
  const closes: number[] = [];
  const closedAt: number[] = [];
  const errors: string[] = [];
  let acking = true;
  let stopped = false;
  const client: Client = createClient({
    url: options.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${ADMIN_KEY}` },
    lazy: false,
    retryAttempts: 1_000,
    shouldRetry: () => !stopped,
    retryWait: async () => {
      await sleep(200);
    },
    on: {
      closed: (event) => {
        if (event && typeof event === 'object' && 'code' in event && typeof event.code === 'number') {
          closes.push(event.code);
          closedAt.push(Date.now());
        }
      },
    },
  });
  const subscribe = () =>
    client.subscribe<{ consume: DeliveryShape }>(
      {
        query: `subscription ($t: String!, $q: String!, $p: Int) { consume(topic: $t, queue: $q, prefetch: $p) { ${DELIVERY_FIELDS} } }`,
        variables: { t: options.topic, q: options.queue, p: options.prefetch },
      },
      {
        next: (result) => {
          if (result.errors?.length) {
            errors.push(result.errors.map((error) => error.message).join('; '));
            return;
          }
          const delivery = result.data?.consume;
          if (!delivery) return;
          const entry = record(got, delivery);
          if (acking) void ack(options.ackUrls, delivery.id).then((acked) => (entry.acked = acked));
        },
        error: (error: unknown) => {
          errors.push(error instanceof Error ? error.message : JSON.stringify(error));
          // A terminal error (for instance the retries ran out) ends the subscription: start it again.
          if (!stopped) setTimeout(() => !stopped && subscribe(), 500);
        },
        complete: () => {
          if (!stopped) setTimeout(() => !stopped && subscribe(), 500);
        },
      },
    );
  subscribe();
  return {
    got,
    closes,
    closedAt,
    errors,
    setAcking: (value) => {
      acking = value;
    },
    async stop() {
      stopped = true;
      await client.dispose();
    },
  };
}

/** A `receive` loop over HTTP, alternating between `urls`, acking every delivery; bounded by stop(). */
export function startReceiveConsumer(options: {
  urls: readonly string[];
  topic: string;
  queue: string;
  max: number;
  waitMs: number;
}): Consumer {
  const got: Got[] = [];
  let acking = true;
  let stopped = false;
  const loop = (async () => {
    for (let turn = 0; !stopped; turn++) {
      const url = options.urls[turn % options.urls.length] ?? '';
      const answer = await gql(
        url,
        `mutation ($t: String!, $q: String!, $m: Int, $w: Int) { receive(topic: $t, queue: $q, max: $m, waitMs: $w) { ${DELIVERY_FIELDS} } }`,
        { t: options.topic, q: options.queue, m: options.max, w: options.waitMs },
        options.waitMs + 5_000,
      );
      const deliveries =
        answer.kind === 'answer' ? (answer.data?.receive as DeliveryShape[] | undefined) : undefined;
      if (!deliveries) {
        await sleep(100);
        continue;
      }
      await Promise.all(
        deliveries.map(async (delivery) => {
          const entry = record(got, delivery);
          if (acking)
            entry.acked = await ack([url, ...options.urls.filter((other) => other !== url)], delivery.id);
        }),
      );
    }
  })();
  return {
    got,
    closes: [],
    closedAt: [],
    errors: [],
    setAcking: (value) => {
      acking = value;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** What a raw HTTP exchange got: status, headers (lower-case names), body. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses one HTTP/1.1 response (content-length framed) off the front of `buffer`, or null if incomplete. */
function parseResponse(buffer: string): { answer: RawAnswer; rest: string } | null {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine = '', ...headerLines] = buffer.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const bodyStart = end + 4;
  if (Buffer.byteLength(buffer.slice(bodyStart)) < length) return null;
  const body = buffer.slice(bodyStart, bodyStart + length);
  return {
    answer: { status: Number(statusLine.split(' ')[1] ?? 0), headers, body },
    rest: buffer.slice(bodyStart + length),
  };
}

/**
 * Two requests on one kept-alive connection: the first sent now (a long poll, in flight when the
 * gateway begins to drain), the second as soon as the first is answered. The second is what a client
 * of a draining gateway gets for new work on a connection it already had: null when the server closed
 * the connection instead of answering.
 */
export async function startKeptAliveExchange(
  url: string,
  first: string,
  second: string,
): Promise<{ answers(): Promise<{ first: RawAnswer | null; second: RawAnswer | null }> }> {
  const { connect } = await import('node:net');
  const target = new URL(url);
  const socket = connect(Number(target.port), target.hostname);
  socket.setTimeout(15_000, () => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const request = (query: string) => {
    const body = JSON.stringify({ query });
    return (
      `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\ncontent-type: application/json\r\n` +
      `authorization: Bearer ${ADMIN_KEY}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    );
  };
  const result: { first: RawAnswer | null; second: RawAnswer | null } = { first: null, second: null };
  let buffer = '';
  const done = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const parsed = parseResponse(buffer);
      if (!parsed) return;
      buffer = parsed.rest;
      if (result.first === null) {
        result.first = parsed.answer;
        if (!socket.destroyed && socket.writable) socket.write(request(second));
      } else {
        result.second = parsed.answer;
        socket.end();
        resolve();
      }
    });
    socket.once('close', () => resolve());
    socket.on('error', () => resolve());
  });
  socket.write(request(first));
  return {
    async answers() {
      await done;
      return result;
    },
  };
}
