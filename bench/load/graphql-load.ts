/** The Switchyard side of the load: everything a client does over GraphQL/HTTP. */
import { makePayload } from '../payload.js';
import { createGraphqlClient, type GraphqlClient } from './graphql-client.js';
import { closedLoop, type LoopResult, type OpenLoopResult, openLoop } from './loops.js';

const PUBLISH = 'mutation($i: PublishInput!){ publish(input:$i){ messageId } }';
const PUBLISH_BATCH = 'mutation($is: [PublishInput!]!){ publishBatch(inputs:$is){ messageId } }';
const RECEIVE =
  'mutation($t: String!, $q: String!, $max: Int!){ receive(topic:$t, queue:$q, max:$max){ id } }';

/** The most sockets one load generator keeps open to the gateway (256 requests in flight). */
const MAX_CONNECTIONS = 256;

const clients = new Map<string, GraphqlClient>();
let seq = 0;

function client(url: string): GraphqlClient {
  let found = clients.get(url);
  if (!found) {
    found = createGraphqlClient(url, MAX_CONNECTIONS);
    clients.set(url, found);
  }
  return found;
}

export interface PublishArgs {
  url: string;
  /** Spread the requests over these endpoints in turn (several gateway instances); `url` alone if absent. */
  urls?: readonly string[];
  topic: string;
  count: number;
  concurrency: number;
  timeoutMs: number;
}

/** `publish`, one message per request, `concurrency` requests in flight. */
export function publishClosed(args: PublishArgs): Promise<LoopResult> {
  const targets = (args.urls?.length ? args.urls : [args.url]).map(client);
  return closedLoop({
    ...args,
    op: (index) =>
      (targets[index % targets.length] as GraphqlClient).request(PUBLISH, {
        i: { topic: args.topic, payload: makePayload(seq++) },
      }),
  });
}

export interface PublishBatchArgs extends Omit<PublishArgs, 'count'> {
  batches: number;
  batchSize: number;
  /** Spread the messages over this many ordering keys, in turn (`k0`, `k1`, ...); none when absent. */
  orderingKeys?: number;
}

/** `publishBatch` of `batchSize` messages, `concurrency` batches in flight; `done` counts batches. */
export function publishBatchClosed(args: PublishBatchArgs): Promise<LoopResult> {
  const graphql = client(args.url);
  return closedLoop({
    count: args.batches,
    concurrency: args.concurrency,
    timeoutMs: args.timeoutMs,
    op: () =>
      graphql.request(PUBLISH_BATCH, {
        is: Array.from({ length: args.batchSize }, () => {
          const n = seq++;
          const orderingKey = args.orderingKeys ? `k${n % args.orderingKeys}` : undefined;
          return { topic: args.topic, payload: makePayload(n), orderingKey };
        }),
      }),
  });
}

/** How far an open loop may fall behind before it skips: 5 s of its schedule. */
export const openLoopBacklog = (ratePerSecond: number) => Math.ceil(ratePerSecond * 5);
/** How long an open loop waits for its last answers (a 5 s backlog on a side that is far slower). */
export const OPEN_LOOP_DRAIN_MS = 120_000;

export interface OpenLoadArgs {
  ratePerSecond: number;
  durationMs: number;
  /** Mark the messages as warm-up, left out of the receiver's latencies. */
  warm: boolean;
}

export interface PublishOpenArgs extends OpenLoadArgs {
  url: string;
  topic: string;
}

/** `publish` at a fixed rate, the send time in each payload. */
export function publishOpen(args: PublishOpenArgs): Promise<OpenLoopResult> {
  const graphql = client(args.url);
  return openLoop({
    ratePerSecond: args.ratePerSecond,
    durationMs: args.durationMs,
    maxInFlight: openLoopBacklog(args.ratePerSecond),
    drainTimeoutMs: OPEN_LOOP_DRAIN_MS,
    op: (_, intendedUs) =>
      graphql.request(PUBLISH, {
        i: { topic: args.topic, payload: makePayload(seq++, intendedUs, args.warm) },
      }),
  });
}

export interface PullArgs {
  url: string;
  topic: string;
  queue: string;
  /** Receive/ack loops running side by side. */
  loops: number;
  /** Deliveries per receive. */
  max: number;
  /** Stop once this many are acked (the queue was filled with exactly this many). */
  expected: number;
  timeoutMs: number;
}

export interface PullResult {
  acked: number;
  elapsedMs: number;
  cutShort: boolean;
}

const ackQueries = new Map<number, string>();

/**
 * The acks of one receive as aliases of ONE request, with variables so the query text repeats and
 * the server's parse cache can do its job: how a real client acks a batch.
 */
function ackQuery(count: number): string {
  let query = ackQueries.get(count);
  if (!query) {
    const ids = Array.from({ length: count }, (_, n) => n);
    query = `mutation(${ids.map((n) => `$d${n}: ID!`).join(', ')}){ ${ids.map((n) => `a${n}: ack(deliveryId: $d${n})`).join(' ')} }`;
    ackQueries.set(count, query);
  }
  return query;
}

/** `receive(max)` then `ack` every delivery in one request, in `loops` loops, until the queue is empty. */
export async function pullGraphql(args: PullArgs): Promise<PullResult> {
  const graphql = client(args.url);
  const started = performance.now();
  const deadline = started + args.timeoutMs;
  let acked = 0;
  const loop = async () => {
    while (acked < args.expected && performance.now() < deadline) {
      const { receive } = await graphql.request<{ receive: { id: string }[] }>(RECEIVE, {
        t: args.topic,
        q: args.queue,
        max: args.max,
      });
      // The queue was filled before the loops started, so empty means the other loops hold the rest.
      if (receive.length === 0) return;
      const variables = Object.fromEntries(receive.map((delivery, n) => [`d${n}`, delivery.id]));
      await graphql.request(ackQuery(receive.length), variables);
      acked += receive.length;
    }
  };
  await Promise.all(Array.from({ length: args.loops }, loop));
  return { acked, elapsedMs: performance.now() - started, cutShort: acked < args.expected };
}

export async function closeGraphqlClients(): Promise<void> {
  const all = [...clients.values()];
  clients.clear();
  await Promise.allSettled(all.map((graphql) => graphql.close()));
}
