import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { postWebhook } from '../../queues/delivery/webhook-http.js';
import {
  ADDRESS_REFUSED,
  assertWebhookTarget,
  createGuardedAgent,
  guardedConnector,
  guardedLookup,
  type LookupAll,
} from '../../queues/security/webhook-guard.js';
import { expectRefusal, firstDeadLetter, useEngineHarness } from '../engine/harness.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';

const STRICT = { allowPrivate: false };
const LENIENT = { allowPrivate: true };
const harness = useEngineHarness();

/** A resolver answering from a table; each call may answer differently (DNS rebinding). */
function fakeDns(answers: Record<string, string[][]>): LookupAll & { calls(): number } {
  const state = { calls: 0 };
  const lookup: LookupAll = (hostname, _options, callback) => {
    state.calls += 1;
    const queue = answers[hostname];
    const next = queue && queue.length > 1 ? queue.shift() : queue?.[0];
    if (!next) {
      callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
      return;
    }
    const found: LookupAddress[] = next.map((address) => ({
      address,
      family: address.includes(':') ? 6 : 4,
    }));
    callback(null, found);
  };
  return Object.assign(lookup, { calls: () => state.calls });
}

const post = (url: string, dispatcher: ReturnType<typeof createGuardedAgent>) =>
  postWebhook({ url, body: '{}', headers: {}, timeoutMs: 5_000, dispatcher });

describe('at createQueue and updateQueue time', () => {
  it.each([
    ['http://127.0.0.1:9/hook', /127\.0\.0\.1 is loopback/],
    ['http://[::1]:9/hook', /::1 is loopback/],
    ['http://10.0.0.1/hook', /10\.0\.0\.1 is private/],
    ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is link-local/],
    ['http://localhost:9/hook', /localhost is loopback/],
  ])('should refuse %s with BAD_USER_INPUT and store nothing', async (url, message) => {
    const engine = await harness.engine({ webhookPolicy: STRICT, runWorkers: false });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const refusal = await expectRefusal(
      engine.createQueue({ topic: 'orders', name: 'billing', target: 'WEBHOOK', url }),
      'BAD_USER_INPUT',
      message,
    );
    expect(refusal.details).toMatchObject({ field: 'url' });
    expect(await engine.queue('orders', 'billing')).toBeNull();
  });

  it('should refuse moving a queue to a refused URL and keep the old one', async () => {
    const engine = await harness.engine({ webhookPolicy: STRICT, runWorkers: false });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({
      topic: 'orders',
      name: 'billing',
      target: 'WEBHOOK',
      url: 'https://203.0.113.9/h',
    });
    await expectRefusal(
      engine.updateQueue('orders', 'billing', { url: 'http://169.254.169.254/' }),
      'BAD_USER_INPUT',
      /may never reach/,
    );
    expect((await engine.queue('orders', 'billing'))?.url).toBe('https://203.0.113.9/h');
  });

  it('should refuse link-local even when private targets are allowed', async () => {
    const engine = await harness.engine({ webhookPolicy: LENIENT, runWorkers: false });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await expectRefusal(
      engine.createQueue({ topic: 'orders', name: 'b', target: 'WEBHOOK', url: 'http://169.254.169.254/' }),
      'BAD_USER_INPUT',
    );
    await engine.createQueue({ topic: 'orders', name: 'ok', target: 'WEBHOOK', url: 'http://127.0.0.1:9/' });
  });
});

describe('at connect time', () => {
  it('should dead-letter as REJECTED after one attempt, and send nothing, when the address became refused', async () => {
    // One instance allowed the URL (it listens on loopback); the delivering one does not. That is the
    // situation DNS rebinding creates: the check at creation passed, the address connected to must not.
    const receiver = await harness.receiver();
    const keyPrefix = uniquePrefix();
    const creator = await harness.engine({ webhookPolicy: LENIENT, runWorkers: false, keyPrefix });
    const deliverer = await harness.engine({ webhookPolicy: STRICT, keyPrefix });
    await creator.createTopic({ name: 'orders', kind: 'FANOUT' });
    const localhostUrl = receiver.url.replace('127.0.0.1', 'localhost');
    await creator.createQueue({ topic: 'orders', name: 'ip', target: 'WEBHOOK', url: receiver.url });
    await creator.createQueue({ topic: 'orders', name: 'name', target: 'WEBHOOK', url: localhostUrl });
    await waitFor(() => deliverer.webhookWorkers === 2, {
      message: 'the delivering instance started no workers',
    });
    await creator.publish({ topic: 'orders', payload: { id: 1 } });

    for (const name of ['ip', 'name']) {
      const dead = await firstDeadLetter(harness.bullQueue(deliverer, 'orders', name));
      expect(dead.attemptsMade).toBe(1);
      expect(dead.history).toHaveLength(1);
      expect(dead.history[0]?.reason).toBe('REJECTED');
      expect(dead.history[0]?.error).toMatch(/^Webhook target refused: .*127\.0\.0\.1.*loopback/);
    }
    expect(receiver.requests).toEqual([]);
  });

  it('should refuse a name that resolves to loopback only when connecting (DNS rebinding)', async () => {
    const receiver = await harness.receiver();
    const port = new URL(receiver.url).port;
    // Public when checked at creation, loopback when connected to.
    const dns = fakeDns({ 'rebind.test': [['203.0.113.50'], ['127.0.0.1']] });
    const url = `http://rebind.test:${port}/hook`;
    const resolve = (host: string) =>
      new Promise<string[]>((done, fail) =>
        dns(host, {}, (error, found) => (error ? fail(error) : done(found.map((a) => a.address)))),
      );
    await assertWebhookTarget('url', url, STRICT, resolve);
    expect(dns.calls()).toBe(1);
    const agent = createGuardedAgent(STRICT, dns);
    try {
      const outcome = await post(url, agent);
      expect(dns.calls()).toBe(2);
      expect(outcome).toMatchObject({ ok: false, reason: 'REJECTED', retryable: false, status: null });
      if (outcome.ok) throw new Error('unreachable');
      expect(outcome.error).toMatch(/rebind\.test resolves to 127\.0\.0\.1, which is loopback/);
      expect(receiver.requests).toEqual([]);
    } finally {
      await agent.close();
    }
  });

  it('should connect only to the allowed addresses of a name that resolves to several', async () => {
    const receiver = await harness.receiver();
    const port = new URL(receiver.url).port;
    const dns = fakeDns({ 'mixed.test': [['169.254.169.254', '127.0.0.1']] });
    const agent = createGuardedAgent(LENIENT, dns);
    try {
      expect(await post(`http://mixed.test:${port}/hook`, agent)).toMatchObject({ ok: true, status: 204 });
      expect(receiver.requests).toHaveLength(1);
    } finally {
      await agent.close();
    }
  });

  it.each(['http://127.0.0.1', 'http://[::1]'])(
    'should refuse the literal address %s before connecting',
    async (origin) => {
      const receiver = await harness.receiver();
      const agent = createGuardedAgent(STRICT);
      try {
        const outcome = await post(`${origin}:${new URL(receiver.url).port}/hook`, agent);
        expect(outcome).toMatchObject({ ok: false, reason: 'REJECTED', retryable: false });
        expect(receiver.requests).toEqual([]);
      } finally {
        await agent.close();
      }
    },
  );

  it.each(['169.254.169.254', '10.0.0.1', 'fd00:ec2::254'])(
    'should refuse %s in the connector without opening a socket',
    async (address) => {
      // The real connector is replaced by one that records: a broken guard fails this test without
      // sending a packet anywhere but loopback.
      const opened: string[] = [];
      const connect = guardedConnector(STRICT, (options, callback) => {
        opened.push(options.hostname);
        callback(new Error('the guard let it through'), null);
      });
      const error = await new Promise<Error | null>((resolve) =>
        connect({ hostname: address, protocol: 'http:', port: '80' }, (...result) => resolve(result[0])),
      );
      expect(opened).toEqual([]);
      expect(error).toMatchObject({ code: ADDRESS_REFUSED });
    },
  );

  it('should refuse in the lookup a name that resolves to a metadata address', async () => {
    const lookup = guardedLookup(LENIENT, fakeDns({ 'metadata.google.internal': [['169.254.169.254']] }));
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      lookup('metadata.google.internal', { all: true }, (failure) => resolve(failure)),
    );
    expect(error).toMatchObject({ code: ADDRESS_REFUSED });
    expect(error?.message).toMatch(/169\.254\.169\.254, which is link-local/);
  });

  it('should not follow a redirect to loopback: REJECTED, and the target never hears of it', async () => {
    const target = await harness.receiver();
    const redirector = await harness.receiver();
    redirector.respond = () => ({ status: 302, headers: { location: target.url } });
    const engine = await harness.engine({ webhookPolicy: LENIENT });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'orders', name: 'billing', target: 'WEBHOOK', url: redirector.url });
    await engine.publish({ topic: 'orders', payload: { id: 1 } });
    const dead = await firstDeadLetter(harness.bullQueue(engine, 'orders', 'billing'));
    expect(dead.history[0]).toMatchObject({ reason: 'REJECTED', error: 'HTTP 302 (redirect not followed)' });
    expect(redirector.requests).toHaveLength(1);
    expect(target.requests).toEqual([]);
  });
});
