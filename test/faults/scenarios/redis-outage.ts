/**
 * Fault 3: Redis unreachable under load. `pause`: SIGSTOP (the sockets stay open and nothing answers),
 * SIGCONT after the outage. `stop`: redis-server stopped, started again after the outage. Meanwhile
 * publish, receive and ack are tried over and over and must answer UNAVAILABLE fast; /health must say
 * 503; once Redis is back, deliveries must resume by themselves and nothing acknowledged may be lost.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { codeOf, gql, gqlOk, startReceiveConsumer, startWebSocketConsumer } from '../client.js';
import { HOOK_QUEUE, startFixture, TOPIC, WORK_QUEUE } from '../fixture.js';
import { startLoad, type Verdict, verdict, waitUntilSettled, webhookSeen } from '../ledger.js';

export interface OutageOptions {
  mode: 'pause' | 'stop';
  outageMs: number;
  /** Requests tried during the outage, at least (publish, receive and ack in turn). */
  tries: number;
  settleTimeoutMs: number;
}

export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface OutageResult {
  mode: OutageOptions['mode'];
  outageMs: number;
  /** Latency of every try during the outage, and per operation. */
  latency: Percentiles;
  byOperation: Record<string, Percentiles>;
  /** The five slowest tries: which operation, when (ms into the outage), how long. */
  slowest: Array<{ operation: string; atMs: number; ms: number }>;
  /** How the tries were answered: error code (or OK, NETWORK) -> count. */
  codes: Record<string, number>;
  /** /health during the outage: statuses seen, slowest answer. */
  health: { statuses: number[]; maxMs: number };
  /**
   * The gateway watchdog's limit around the freeze (the larger of /health's `redisUnresponsiveAfterMs`
   * just before it and during the outage): how long the tries sent at the freeze may wait for it to be seen.
   */
  watchdogLimitMs: number;
  /** What the websocket subscriber was told during the outage. */
  subscriber: { closes: number[]; errors: string[] };
  /** From Redis back until a message published then reached the webhook receiver and a consumer. */
  resumeMs: { webhook: number | null; consumer: number | null };
  verdict: Verdict;
  lost: number;
  seconds: number;
}

const HELD_QUEUE = 'held';

export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
}

export async function runRedisOutage(options: OutageOptions): Promise<OutageResult> {
  const started = Date.now();
  const fixture = await startFixture({ gateways: 1 });
  const [gateway] = fixture.gateways;
  if (!gateway) throw new Error('no gateway');
  const url = gateway.url;
  const base = url.replace(/\/graphql$/, '');
  const runId = randomUUID();
  // A queue nobody consumes: its deliveries, taken before the outage, are what `ack` is tried on.
  await gqlOk(
    url,
    `mutation { createQueue(input: { topic: "${TOPIC}", name: "${HELD_QUEUE}", target: CONSUMER, ackTimeoutMs: 600000 }) { name } }`,
  );
  const subscriber = startWebSocketConsumer({
    wsUrl: url.replace('http', 'ws'),
    ackUrls: [url],
    topic: TOPIC,
    queue: WORK_QUEUE,
    prefetch: 8,
  });
  const puller = startReceiveConsumer({ urls: [url], topic: TOPIC, queue: WORK_QUEUE, max: 5, waitMs: 300 });
  const load = startLoad(runId, {
    urls: () => [url],
    topic: TOPIC,
    ratePerSecond: 20,
    batchEvery: 4,
    batchSize: 3,
    keyEvery: 3,
    maxInFlight: 32,
    timeoutMs: 3_000,
  });
  try {
    // Past the gateway watchdog's warm-up (5 s, ENGINE_DEFAULTS.redisWatchWarmUpMs), as a gateway in
    // service is: before it the watchdog holds to its upper limit.
    await sleep(6_000);
    const held = await gqlOk(
      url,
      `mutation { receive(topic: "${TOPIC}", queue: "${HELD_QUEUE}", max: 50, waitMs: 1000) { id } }`,
    );
    const heldIds = (held.receive as Array<{ id: string }>).map((delivery) => delivery.id);
    if (heldIds.length === 0) throw new Error('no delivery to try acks on');

    const limitBefore = await watchdogLimit(base);
    const closesBefore = subscriber.closes.length;
    const errorsBefore = subscriber.errors.length;
    if (options.mode === 'pause') fixture.redis.pause();
    else await fixture.redis.stop();
    const downAt = Date.now();

    const operations = [
      {
        name: 'publish',
        query:
          'mutation ($t: String!) { publish(input: { topic: $t, payload: { probe: true } }) { messageId } }',
        variables: () => ({ t: TOPIC }),
      },
      {
        name: 'receive',
        query: 'mutation ($t: String!, $q: String!) { receive(topic: $t, queue: $q, max: 1) { id } }',
        variables: () => ({ t: TOPIC, q: HELD_QUEUE }),
      },
      {
        name: 'ack',
        query: 'mutation ($id: ID!) { ack(deliveryId: $id) }',
        variables: () => ({ id: heldIds[Math.floor(Math.random() * heldIds.length)] }),
      },
    ];
    const times: Record<string, number[]> = { publish: [], receive: [], ack: [] };
    const slowest: Array<{ operation: string; atMs: number; ms: number }> = [];
    const codes: Record<string, number> = {};
    let tried = 0;
    const tryEnd = downAt + options.outageMs - 300;
    // Four clients at once, each one request at a time, paced so that the tries spread over the
    // outage (a fast answer at its start says little about its 30th second), until enough were made.
    const clients = 4;
    // The pace leaves 2.5 s of the window spare: the tries sent at the freeze wait for the watchdog's
    // limit (up to 750 ms on a loaded machine), and a loaded machine's sleeps run late.
    const paceMs = Math.max(0, (options.outageMs - 2_500) / Math.ceil(options.tries / clients));
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (tried < options.tries && Date.now() < tryEnd) {
          const operation = operations[tried++ % operations.length];
          if (!operation) break;
          const answer = await gql(url, operation.query, operation.variables(), 5_000);
          times[operation.name]?.push(answer.ms);
          slowest.push({
            operation: operation.name,
            atMs: Math.round(Date.now() - answer.ms - downAt),
            ms: Math.round(answer.ms),
          });
          slowest.sort((a, b) => b.ms - a.ms);
          slowest.length = Math.min(slowest.length, 5);
          const code = codeOf(answer) ?? 'OK';
          codes[code] = (codes[code] ?? 0) + 1;
          await sleep(Math.max(0, paceMs - answer.ms));
        }
      }),
    );
    const health = { statuses: [] as number[], maxMs: 0 };
    let watchdogLimitMs = limitBefore;
    for (let i = 0; i < 3; i++) {
      const begun = performance.now();
      const answer = await fetch(`${base}/health`, { signal: AbortSignal.timeout(5_000) })
        .then(async (response) => ({ status: response.status, body: (await response.json()) as unknown }))
        .catch(() => ({ status: 0, body: null }));
      health.statuses.push(answer.status);
      health.maxMs = Math.max(health.maxMs, performance.now() - begun);
      watchdogLimitMs = Math.max(watchdogLimitMs, limitIn(answer.body));
    }
    const remaining = downAt + options.outageMs - Date.now();
    if (remaining > 0) await sleep(remaining);
    const subscriberTold = {
      closes: subscriber.closes.slice(closesBefore),
      errors: subscriber.errors.slice(errorsBefore),
    };

    if (options.mode === 'pause') fixture.redis.resume();
    else await fixture.redis.start();
    const upAt = Date.now();
    const resumeMs = await timeToResume(url, fixture.receiver, subscriber, puller, runId, upAt);

    await sleep(1_500);
    await load.stop();
    const check = async () =>
      verdict(load.publishes, [
        { queue: HOOK_QUEUE, seen: webhookSeen(fixture.receiver, runId), dead: await fixture.hook.deadIds() },
        {
          queue: WORK_QUEUE,
          seen: [...subscriber.got, ...puller.got],
          dead: await fixture.work.deadIds(),
        },
      ]);
    const settled = await waitUntilSettled(check, [fixture.hook, fixture.work], options.settleTimeoutMs);
    const all = [...(times.publish ?? []), ...(times.receive ?? []), ...(times.ack ?? [])];
    return {
      mode: options.mode,
      outageMs: options.outageMs,
      latency: percentiles(all),
      byOperation: Object.fromEntries(
        Object.entries(times).map(([name, values]) => [name, percentiles(values)]),
      ),
      codes,
      slowest,
      health,
      watchdogLimitMs,
      subscriber: subscriberTold,
      resumeMs,
      verdict: settled.verdict,
      lost: settled.verdict.queues.reduce((sum, queue) => sum + queue.lost, 0),
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await load.stop();
    await Promise.allSettled([subscriber.stop(), puller.stop()]);
    await fixture.close();
  }
}

/** /health's `redisUnresponsiveAfterMs` now. */
async function watchdogLimit(base: string): Promise<number> {
  const response = await fetch(`${base}/health`, { signal: AbortSignal.timeout(5_000) });
  return limitIn(await response.json());
}

function limitIn(body: unknown): number {
  const limit = (body as { redisUnresponsiveAfterMs?: unknown } | null)?.redisUnresponsiveAfterMs;
  return typeof limit === 'number' ? limit : 0;
}

/** Publishes one marker as soon as a publish succeeds, and times its arrival at both queues' receivers. */
async function timeToResume(
  url: string,
  receiver: Parameters<typeof webhookSeen>[0],
  subscriber: { got: Array<{ messageId: string }> },
  puller: { got: Array<{ messageId: string }> },
  runId: string,
  upAt: number,
): Promise<{ webhook: number | null; consumer: number | null }> {
  const deadline = upAt + 30_000;
  let messageId: string | null = null;
  while (!messageId && Date.now() < deadline) {
    const answer = await gql(
      url,
      'mutation ($t: String!, $r: String!) { publish(input: { topic: $t, payload: { run: $r, seq: -1, marker: true } }) { messageId } }',
      { t: TOPIC, r: `${runId}-marker` },
      2_000,
    );
    const published =
      answer.kind === 'answer' ? (answer.data?.publish as { messageId?: string } | undefined) : undefined;
    if (published?.messageId) messageId = published.messageId;
    else await sleep(50);
  }
  const result: { webhook: number | null; consumer: number | null } = { webhook: null, consumer: null };
  while (Date.now() < deadline && (result.webhook === null || result.consumer === null)) {
    if (
      result.webhook === null &&
      receiver.requests.some((request) => request.body.includes(`"id":"${messageId}"`))
    ) {
      result.webhook = Date.now() - upAt;
    }
    if (
      result.consumer === null &&
      [...subscriber.got, ...puller.got].some((delivery) => delivery.messageId === messageId)
    ) {
      result.consumer = Date.now() - upAt;
    }
    await sleep(20);
  }
  return result;
}
