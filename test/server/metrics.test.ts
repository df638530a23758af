import { describe, expect, it } from 'vitest';
import {
  TestCreateApiKeyDocument,
  TestDeadLetterIdsDocument,
  TestReceiveIdsDocument,
} from '../generated/graphql.js';
import { startReceiver } from '../helpers/receiver.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import { dataCaller, useLiveGateways } from '../live/helpers.js';

const { pool, redis, receivers } = useLiveGateways();
const ADMIN_KEY = 'sy_metrics-test-admin-key-0123456789abcdefghijklmnopq';

async function start(env: Record<string, string> = {}) {
  const { url } = await pool.start(redis.url, env);
  const key = env.SWITCHYARD_ADMIN_KEY;
  const gql = dataCaller(url, key);
  const base = url.replace(/\/graphql$/, '');
  const scrape = (headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {}) =>
    fetch(`${base}/metrics`, { headers });
  return { base, gql, scrape };
}

type Gql = Awaited<ReturnType<typeof start>>['gql'];

/** The value of the sample `name` whose labels include `labels`; undefined when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([label, value]) => found[label] === value)) return Number(match[3]);
  }
  return undefined;
}

async function setUp(gql: Gql, webhookUrl: string) {
  await gql('mutation { createTopic(input: { name: "orders", kind: FANOUT }) { name } }');
  await gql(
    'mutation($url: String!) { createQueue(input: { topic: "orders", name: "hook", target: WEBHOOK, url: $url }) { name } }',
    {
      url: webhookUrl,
    },
  );
  await gql(
    'mutation { createQueue(input: { topic: "orders", name: "pull", target: CONSUMER, retry: { maxAttempts: 1 } }) { name } }',
  );
}

async function publish(gql: Gql, count: number) {
  for (let n = 0; n < count; n += 1) {
    await gql(
      'mutation($n: Int!) { publish(input: { topic: "orders", payload: { n: $n } }) { messageId } }',
      { n },
    );
  }
}

describe('/metrics', () => {
  it('counts publishes, deliveries by outcome, failures by reason and latency, and reads the queues', async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    const { gql, scrape } = await start();
    await setUp(gql, `${receiver.url}/hook`);
    await publish(gql, 4);
    await waitFor(() => receiver.requests.length === 4, { message: 'four webhook deliveries' });

    // From the consumer queue: one acked, one rejected into the dead letters; two keep waiting.
    const { receive } = await gql(TestReceiveIdsDocument, { topic: 'orders', queue: 'pull', max: 2 });
    const [acked, rejected] = receive.map((delivery) => delivery.id);
    await gql('mutation($id: ID!) { ack(deliveryId: $id) }', { id: acked });
    await gql('mutation($id: ID!) { nack(deliveryId: $id, reason: REJECTED, error: "no") }', {
      id: rejected,
    });

    let text = '';
    await waitFor(
      async () => {
        text = await (await scrape()).text();
        return (
          sample(text, 'switchyard_delivery_attempts_total', { queue: 'hook', outcome: 'delivered' }) === 4
        );
      },
      { message: 'the four webhook deliveries to be counted' },
    );
    const pull = { topic: 'orders', queue: 'pull' };
    expect(sample(text, 'switchyard_messages_published_total', { topic: 'orders' })).toBe(4);
    expect(sample(text, 'switchyard_delivery_attempts_total', { ...pull, outcome: 'delivered' })).toBe(1);
    expect(sample(text, 'switchyard_delivery_attempts_total', { ...pull, outcome: 'dead_lettered' })).toBe(1);
    expect(sample(text, 'switchyard_delivery_failures_total', { ...pull, reason: 'REJECTED' })).toBe(1);
    expect(sample(text, 'switchyard_delivery_latency_seconds_count', { queue: 'hook' })).toBe(4);
    expect(sample(text, 'switchyard_delivery_latency_seconds_bucket', { queue: 'hook', le: '+Inf' })).toBe(4);
    expect(sample(text, 'switchyard_queue_messages', { ...pull, state: 'waiting' })).toBe(2);
    expect(sample(text, 'switchyard_queue_messages', { ...pull, state: 'dead_lettered' })).toBe(1);
    expect(
      sample(text, 'switchyard_queue_messages', { topic: 'orders', queue: 'hook', state: 'waiting' }),
    ).toBe(0);
    expect(sample(text, 'switchyard_queue_oldest_waiting_age_seconds', pull)).toBeGreaterThan(0);
    expect(
      sample(text, 'switchyard_queue_oldest_waiting_age_seconds', { topic: 'orders', queue: 'hook' }),
    ).toBe(0);
    expect(sample(text, 'switchyard_queue_paused', pull)).toBe(0);
    // This instance's webhook worker at its fixed (default) concurrency; a CONSUMER queue has none.
    expect(sample(text, 'switchyard_queue_concurrency', { topic: 'orders', queue: 'hook' })).toBe(10);
    expect(sample(text, 'switchyard_queue_concurrency', pull)).toBeUndefined();
    expect(sample(text, 'switchyard_circuit_state', { queue: 'hook', state: 'CLOSED' })).toBe(1);
    expect(sample(text, 'switchyard_circuit_state', { queue: 'hook', state: 'OPEN' })).toBe(0);
    expect(sample(text, 'switchyard_circuit_state', { queue: 'pull' })).toBeUndefined();
    expect(sample(text, 'switchyard_redis_up')).toBe(1);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');

    const { deadLetters } = await gql(TestDeadLetterIdsDocument);
    await gql('mutation($id: ID!) { replayDeadLetter(id: $id) { replayed } }', {
      id: deadLetters.edges[0]?.node.id,
    });
    await gql('mutation { pauseQueue(topic: "orders", name: "pull") { paused } }');
    text = await (await scrape()).text();
    expect(sample(text, 'switchyard_dead_letter_actions_total', { ...pull, action: 'replayed' })).toBe(1);
    expect(sample(text, 'switchyard_queue_messages', { ...pull, state: 'waiting' })).toBe(3);
    expect(sample(text, 'switchyard_queue_paused', pull)).toBe(1);
  });

  it('counts per instance and reads the shared queues alike on every instance', async () => {
    const prefix = uniquePrefix();
    const a = await start({ SWITCHYARD_PREFIX: prefix });
    const b = await start({ SWITCHYARD_PREFIX: prefix });
    await a.gql('mutation { createTopic(input: { name: "orders", kind: FANOUT }) { name } }');
    await a.gql(
      'mutation { createQueue(input: { topic: "orders", name: "pull", target: CONSUMER }) { name } }',
    );
    await publish(a.gql, 3);
    const [fromA, fromB] = await Promise.all([
      a.scrape().then((r) => r.text()),
      b.scrape().then((r) => r.text()),
    ]);
    expect(sample(fromA, 'switchyard_messages_published_total', { topic: 'orders' })).toBe(3);
    expect(sample(fromB, 'switchyard_messages_published_total', { topic: 'orders' })).toBeUndefined();
    const waiting = { topic: 'orders', queue: 'pull', state: 'waiting' };
    expect(sample(fromA, 'switchyard_queue_messages', waiting)).toBe(3);
    expect(sample(fromB, 'switchyard_queue_messages', waiting)).toBe(3);
  });

  it('needs the stats scope when keys are required, and never echoes a key', async () => {
    const { gql, scrape } = await start({ SWITCHYARD_ADMIN_KEY: ADMIN_KEY });
    const created = async (scopes: string[]) =>
      (await gql(TestCreateApiKeyDocument, { name: 'scraper', scopes })).createApiKey.secret;
    const publisher = await created(['publish:#']);
    const scraper = await created(['stats']);

    const none = await scrape({});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await scrape({ authorization: 'Bearer sy_not-a-key' });
    expect(wrong.status).toBe(401);
    const forbidden = await scrape({ authorization: `Bearer ${publisher}` });
    expect(forbidden.status).toBe(403);
    const forbiddenText = await forbidden.text();
    expect(forbiddenText).toContain('stats scope');
    expect(forbiddenText).not.toContain(publisher);
    const allowed = await scrape({ authorization: `Bearer ${scraper}` });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('content-type')).toContain('text/plain');
    expect(await allowed.text()).toContain('switchyard_redis_up 1');
    expect((await scrape()).status).toBe(200);
  });

  it('answers only GET and HEAD, and is absent with SWITCHYARD_METRICS=false', async () => {
    const { base } = await start();
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: '' });
    expect(post.status).toBe(405);
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const off = await start({ SWITCHYARD_METRICS: 'false' });
    expect((await fetch(`${off.base}/metrics`)).status).toBe(404);
  });
});
