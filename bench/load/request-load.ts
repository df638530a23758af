/**
 * Request-reply load (scenario 9): an open loop of round trips, timed at the caller from when each
 * was due to when its answer came. Switchyard: `request` over GraphQL, answered by a webhook's 2xx
 * body. Raw BullMQ: its own pattern, `Queue.add` then `job.waitUntilFinished(queueEvents)`, answered
 * by a Worker's return value.
 */
import { type Queue, QueueEvents } from 'bullmq';
import { makePayload, nowUs } from '../payload.js';
import { queue, type RawTarget } from './bull-load.js';
import { createGraphqlClient, type GraphqlClient } from './graphql-client.js';
import { OPEN_LOOP_DRAIN_MS, type OpenLoadArgs, openLoopBacklog } from './graphql-load.js';
import { type OpenLoopResult, openLoop } from './loops.js';

const REQUEST =
  'mutation($i: PublishInput!, $t: Int){ request(input:$i, timeoutMs:$t){ messageId payload } }';
/** Longer than any round trip the bench should see; a request that takes it fails the run. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Sockets to the gateway: every request in flight holds one until its answer. */
const MAX_CONNECTIONS = 512;

export interface RoundTripResult extends OpenLoopResult {
  /** Round trips of the measured (non warm-up) run, in µs, from when each was due. */
  latenciesUs: number[];
}

let seq = 0;
let graphql: GraphqlClient | null = null;
const events = new Map<string, QueueEvents>();

/** Runs `op` at the rate, keeping the round trip of each that succeeded. */
async function timed(args: OpenLoadArgs, op: (index: number, intendedUs: number) => Promise<unknown>) {
  const latenciesUs: number[] = [];
  const result = await openLoop({
    ratePerSecond: args.ratePerSecond,
    durationMs: args.durationMs,
    maxInFlight: openLoopBacklog(args.ratePerSecond),
    drainTimeoutMs: OPEN_LOOP_DRAIN_MS,
    op: async (index, intendedUs) => {
      await op(index, intendedUs);
      if (!args.warm) latenciesUs.push(nowUs() - intendedUs);
    },
  });
  return { ...result, latenciesUs };
}

export interface RequestOpenArgs extends OpenLoadArgs {
  url: string;
  topic: string;
}

/** `request` at a fixed rate; each answer must carry the webhook's reply. */
export function requestOpen(args: RequestOpenArgs): Promise<RoundTripResult> {
  graphql ??= createGraphqlClient(args.url, MAX_CONNECTIONS);
  const client = graphql;
  return timed(args, async (_, intendedUs) => {
    const answer = await client.request<{ request: { payload: unknown } }>(REQUEST, {
      i: { topic: args.topic, payload: makePayload(seq++, intendedUs, args.warm) },
      t: REQUEST_TIMEOUT_MS,
    });
    if (answer.request.payload === null) throw new Error('a request was answered without a payload');
  });
}

export interface AddAndWaitArgs extends OpenLoadArgs, RawTarget {
  queue: string;
}

/** Raw BullMQ's request-reply: `Queue.add`, then `waitUntilFinished` on a shared QueueEvents. */
export async function addAndWaitOpen(args: AddAndWaitArgs): Promise<RoundTripResult> {
  const target: Queue = queue(args, args.queue);
  const id = `${args.prefix} ${args.queue}`;
  let listener = events.get(id);
  if (!listener) {
    const { hostname, port } = new URL(args.redisUrl);
    // Connection options, not a client: QueueEvents blocks on its connection and closes what it opened.
    listener = new QueueEvents(args.queue, {
      connection: { host: hostname, port: Number(port), maxRetriesPerRequest: null },
      prefix: args.prefix,
    });
    await listener.waitUntilReady();
    events.set(id, listener);
  }
  const queueEvents = listener;
  // Each waiting job listens for its queue's closing: as many listeners as requests in flight.
  target.setMaxListeners(Math.max(target.getMaxListeners(), openLoopBacklog(args.ratePerSecond) + 16));
  return timed(args, async (_, intendedUs) => {
    // Completed jobs are kept a while: waitUntilFinished reads a finished job's return value.
    const job = await target.add('message', makePayload(seq++, intendedUs, args.warm), {
      removeOnComplete: { count: 1000 },
      removeOnFail: false,
    });
    const reply = await job.waitUntilFinished(queueEvents, REQUEST_TIMEOUT_MS);
    if (reply === null || reply === undefined) throw new Error('a job finished without a return value');
  });
}

export async function closeRequestLoad(): Promise<void> {
  const closing = [...events.values()];
  events.clear();
  const client = graphql;
  graphql = null;
  await Promise.allSettled([...closing.map((listener) => listener.close()), client?.close()]);
}
