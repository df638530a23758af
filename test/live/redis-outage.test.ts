/**
 * Live subscriptions during a Redis outage (issue 19, fault 3): a `consume` or `deliveryEvents`
 * subscriber gets one `next` with an UNAVAILABLE error per outage, stays subscribed, and gets
 * deliveries again once Redis is back, with no restart; a subscription started during the outage is
 * refused with UNAVAILABLE. Redis stopped (SIGTERM, then started again) and frozen (SIGSTOP/SIGCONT).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../server/gateway.js';
import { type FaultRedis, startFaultRedis } from '../faults/processes.js';
import { waitFor } from '../helpers/redis.js';
import { type Collected, collect, execute, type GraphQLBody, gatewayPool, warmUp } from './helpers.js';

const CONSUME =
  'subscription ($prefetch: Int) { consume(topic: "jobs", queue: "work", prefetch: $prefetch) { id message { payload } } }';
const EVENTS = 'subscription { deliveryEvents(topic: "jobs") { kind } }';
const ACK = 'mutation Ack($id: ID!) { ack(deliveryId: $id) }';

type ConsumeBody = GraphQLBody<{ consume: { id: string; message: { payload: unknown } } }>;

let redis: FaultRedis | undefined;
const pool = gatewayPool();

beforeAll(async () => {
  redis = await startFaultRedis();
});
afterEach(async () => {
  redis?.resume();
  const stops = await pool.stopAll();
  expect(stops.filter((result) => result.status === 'rejected')).toEqual([]);
});
afterAll(async () => {
  await redis?.close();
});

const requireRedis = (): FaultRedis => {
  if (!redis) throw new Error('the fault redis-server is started in beforeAll');
  return redis;
};

const codes = (results: GraphQLBody<unknown>[]) =>
  results.flatMap((result) => (result.errors ?? []).map((error) => error.extensions?.code));
const payloads = (stream: Collected<ConsumeBody>) =>
  stream.results.flatMap((result) => (result.data ? [result.data.consume.message.payload] : []));

/** Publishes until the gateway takes it (Redis may still be reconnecting), bounded. */
async function publishOnceBack(gateway: Gateway, payload: unknown): Promise<void> {
  await waitFor(
    async () => {
      try {
        await gateway.engine.publish({ topic: 'jobs', payload });
        return true;
      } catch {
        return false;
      }
    },
    { timeoutMs: 10_000 },
  );
}

async function consumerGateway() {
  const started = await pool.start(requireRedis().url);
  await started.gateway.engine.createTopic({ name: 'jobs', kind: 'FANOUT' });
  await started.gateway.engine.createQueue({ topic: 'jobs', name: 'work', target: 'CONSUMER' });
  const client = pool.client(started.url);
  const stream = collect<ConsumeBody>(client, CONSUME, { prefetch: 5 });
  const events = collect(client, EVENTS);
  // The subscriptions are live once a delivery and an event arrive (events are at-most-once: warm up).
  await warmUp(
    () => publishOnceBack(started.gateway, 'before'),
    () => payloads(stream).includes('before') && events.results.length > 0,
  );
  return { ...started, client, stream, events };
}

describe.each([
  { outage: 'stopped', begin: (r: FaultRedis) => r.stop(), end: (r: FaultRedis) => r.start() },
  {
    outage: 'frozen',
    begin: async (r: FaultRedis) => r.pause(),
    end: async (r: FaultRedis) => r.resume(),
  },
])('a Redis $outage while subscribers are connected', ({ outage, begin, end }) => {
  it('should send each subscriber one UNAVAILABLE error, keep it subscribed, and deliver again once Redis is back', async () => {
    const { gateway, url, client, stream, events } = await consumerGateway();
    const r = requireRedis();
    const downAt = Date.now();
    await begin(r);
    await waitFor(() => codes(stream.results).includes('UNAVAILABLE'), { timeoutMs: 3_000 });
    const toldAfterMs = Date.now() - downAt;
    await waitFor(() => codes(events.results).includes('UNAVAILABLE'), { timeoutMs: 1_000 });
    // A subscription started now is refused at once (one `next` with the error, then `complete`).
    const late = collect(pool.client(url), CONSUME, { prefetch: 1 });
    await waitFor(() => late.completed, { timeoutMs: 3_000 });
    expect(codes(late.results)).toEqual(['UNAVAILABLE']);
    await sleep(1_000);

    await end(r);
    await publishOnceBack(gateway, 'after');
    await waitFor(() => payloads(stream).includes('after'), { timeoutMs: 5_000 });
    // One notice per outage, however long it lasted; both streams are still open.
    expect(codes(stream.results)).toEqual(['UNAVAILABLE']);
    expect(codes(events.results)).toEqual(['UNAVAILABLE']);
    expect([stream.completed, events.completed, stream.errors, events.errors]).toEqual([
      false,
      false,
      [],
      [],
    ]);
    const notice = stream.results.find((result) => result.errors)?.errors?.[0];
    expect(notice?.message).toMatch(/Redis is unreachable.*stays open/);
    expect(notice?.extensions).toMatchObject({ code: 'UNAVAILABLE', notice: 'REDIS_OUTAGE' });
    console.log(`Redis ${outage}: subscribers told ${toldAfterMs} ms after it went away`);
    expect(toldAfterMs).toBeLessThan(2_000);
    // Deliveries from after the outage ack as usual.
    const after = stream.results.find((result) => result.data?.consume.message.payload === 'after');
    const acked = await execute(client, ACK, { id: after?.data?.consume.id });
    expect(acked, JSON.stringify(acked)).toEqual({ data: { ack: true } });
  }, 40_000);
});
