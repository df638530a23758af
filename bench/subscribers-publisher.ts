/**
 * The publisher of `npm run bench:subscribers`, in a process of its own: in the bench process it
 * shared an event loop with a thousand websocket clients, fell behind its schedule, and its requests
 * timed out, which measured the bench rather than the gateway.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createGraphqlClient, type GraphqlClient } from './load/graphql-client.js';
import { nowUs } from './payload.js';
import { serveRpc } from './rpc.js';

const PUBLISH =
  'mutation ($payload: JSON!) { publish(input: { topic: "ticker", routingKey: "t", payload: $payload }) { messageId } }';
/** Enough keep-alive connections that a slow answer never holds up the schedule. */
const CONNECTIONS = 64;

/** One client per measured server: a run measures the gateway and then the floor, each on its own port. */
const clients = new Map<string, GraphqlClient>();
const clientFor = (url: string) => {
  let client = clients.get(url);
  if (!client) {
    client = createGraphqlClient(url, CONNECTIONS);
    clients.set(url, client);
  }
  return client;
};

export interface ScheduleArgs {
  url: string;
  /** Messages per second. */
  rate: number;
  /** Messages, numbered 0 to count - 1. */
  count: number;
}

export interface ScheduleResult {
  failures: number;
  /** Distinct failure messages, with how often each came. */
  reasons: Record<string, number>;
}

const api = {
  /** One message with sequence -1: subscribers count themselves warm when one arrives. */
  async publishWarmUp(url: string): Promise<void> {
    await clientFor(url).request(PUBLISH, { payload: { seq: -1, sentAtUs: nowUs() } });
  },

  /**
   * `count` messages at `rate` per second on a fixed schedule, each stamped with its send time on the
   * machine-wide monotonic clock (the subscribers, in other processes, read the same clock).
   */
  async publishSchedule(args: ScheduleArgs): Promise<ScheduleResult> {
    const graphql = clientFor(args.url);
    const reasons: Record<string, number> = {};
    let failures = 0;
    const publishes: Promise<void>[] = [];
    const startedAt = performance.now();
    for (let seq = 0; seq < args.count; seq++) {
      const wait = startedAt + (seq * 1000) / args.rate - performance.now();
      if (wait > 1) await sleep(wait);
      publishes.push(
        graphql.request(PUBLISH, { payload: { seq, sentAtUs: nowUs() } }).then(
          () => undefined,
          (error: unknown) => {
            failures++;
            const reason = (error instanceof Error ? error.message : String(error)).slice(0, 300);
            reasons[reason] = (reasons[reason] ?? 0) + 1;
          },
        ),
      );
    }
    await Promise.all(publishes);
    return { failures, reasons };
  },
};
export type SubscribersPublisherApi = typeof api;

serveRpc(api, async () => {
  await Promise.allSettled([...clients.values()].map((client) => client.close()));
});
