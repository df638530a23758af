import { describe, expect, it } from 'vitest';
import { useEngineHarness } from '../engine/harness.js';
import { refusal, startScopedApp } from './scoped-app.js';

const harness = useEngineHarness();

describe('refusals', () => {
  it('should name the scope that would have granted the field', async () => {
    const app = await startScopedApp(harness);
    const publisher = await app.keyWith(['publish:invoices', 'stats']);
    const messages = async (query: string) => refusal(await app.ask(query, {}, publisher)).message;
    expect(
      await messages('mutation { publish(input: { topic: "orders.eu", payload: 1 }) { messageId } }'),
    ).toBe(
      'Forbidden: Mutation.publish needs a scope publish:<pattern> matching topic "orders.eu" ' +
        '(such as publish:orders.eu) or admin',
    );
    expect(await messages('mutation { deleteTopic(name: "invoices") }')).toBe(
      'Forbidden: Mutation.deleteTopic needs the scope admin',
    );
    expect(await messages('subscription { deliveryEvents { kind } }')).toBe(
      'Forbidden: Subscription.deliveryEvents needs the scope subscribe:# (every topic) or admin',
    );
    const reader = await app.keyWith(['publish:#']);
    expect(refusal(await app.ask('{ stats { windowMs } }', {}, reader)).message).toBe(
      'Forbidden: Query.stats needs the scope stats or admin',
    );
  });

  it("should show a queue's circuit breaker to keys with the stats scope only", async () => {
    const app = await startScopedApp(harness);
    const query = '{ topics { queues { name circuit { state consecutiveFailures openUntil } } } }';
    const viewer = await app.keyWith(['stats']);
    const answer = await app.ask(query, {}, viewer);
    expect(answer.errors).toBeUndefined();
    const circuits = JSON.stringify(answer.data).match(/"circuit":\{[^}]*\}/g) ?? [];
    expect(circuits.length).toBeGreaterThan(0);
    for (const circuit of circuits) {
      expect(circuit).toBe('"circuit":{"state":"CLOSED","consecutiveFailures":0,"openUntil":null}');
    }
    const publisher = await app.keyWith(['publish:#']);
    expect(refusal(await app.ask(query, {}, publisher)).message).toMatch(
      /Queue\.circuit needs the scope stats/,
    );
  });

  it('should answer a malformed id with BAD_USER_INPUT, before and after the scope check alike', async () => {
    const app = await startScopedApp(harness);
    const key = await app.keyWith(['stats']);
    const before = await app.state();
    expect(refusal(await app.ask('{ deadLetter(id: "nope") { id } }', {}, key)).code).toBe('BAD_USER_INPUT');
    expect(refusal(await app.ask('mutation { ack(deliveryId: "nope") }', {}, key)).code).toBe(
      'BAD_USER_INPUT',
    );
    expect(await app.state()).toEqual(before);
  });
});

describe('what a key sees', () => {
  it('should list and answer only the topics a key can act on, and every topic to stats and admin keys', async () => {
    const app = await startScopedApp(harness);
    await app.engine.createTopic({ name: 'orders.us', kind: 'FANOUT' });
    const names = async (key: string) => {
      const { data } = await app.ask('{ topics { name } }', {}, key);
      return ((data?.topics ?? []) as Array<{ name: string }>).map((topic) => topic.name);
    };
    expect(await names(await app.keyWith(['publish:orders.*']))).toEqual(['orders.eu', 'orders.us']);
    expect(await names(await app.keyWith(['deadletters:read:invoices']))).toEqual(['invoices']);
    expect(await names(await app.keyWith(['consume:nothing']))).toEqual([]);
    expect((await names(await app.keyWith(['stats']))).sort()).toEqual([
      'invoices',
      'orders.eu',
      'orders.us',
    ]);
    expect((await names(await app.keyWith(['admin']))).sort()).toEqual([
      'invoices',
      'orders.eu',
      'orders.us',
    ]);

    const invoices = await app.keyWith(['publish:invoices']);
    expect(await app.ask('{ topic(name: "orders.eu") { name } }', {}, invoices)).toEqual({
      data: { topic: null },
    });
    expect(await app.ask('{ queue(topic: "orders.eu", name: "work") { name } }', {}, invoices)).toEqual({
      data: { queue: null },
    });
    expect(await app.ask('{ topic(name: "invoices") { name } }', {}, invoices)).toEqual({
      data: { topic: { name: 'invoices' } },
    });
  });

  it("should answer a queue's signingSecret to admins only, and null to other keys", async () => {
    const app = await startScopedApp(harness);
    const query = '{ queue(topic: "orders.eu", name: "hook") { name signingSecret } }';
    const admin = await app.ask(query, {}, await app.keyWith(['admin']));
    expect((admin.data?.queue as { signingSecret?: string } | undefined)?.signingSecret).toMatch(/^whsec_/);
    const other = await app.ask(query, {}, await app.keyWith(['publish:#', 'stats', 'deadletters:write:#']));
    expect(other).toEqual({ data: { queue: { name: 'hook', signingSecret: null } } });
    const everywhere = await app.ask(
      '{ topics { queues { signingSecret } } stats { queues { signingSecret } } }',
      {},
      await app.keyWith(['stats']),
    );
    expect(JSON.stringify(everywhere)).not.toContain('whsec_');
    expect(everywhere.errors).toBeUndefined();
  });

  it('should answer topic and queue counters to keys with the stats scope only', async () => {
    const app = await startScopedApp(harness);
    const query = '{ topic(name: "orders.eu") { name stats { published } queues { name } } }';
    const withStats = await app.ask(query, {}, await app.keyWith(['publish:orders.eu', 'stats']));
    expect(withStats.errors).toBeUndefined();
    const without = await app.ask(query, {}, await app.keyWith(['publish:orders.eu']));
    const { code, message } = refusal(without);
    expect(code).toBe('FORBIDDEN');
    expect(message).toBe('Forbidden: Topic.stats needs the scope stats or admin');
    expect(without.errors?.[0]?.path).toEqual(['topic', 'stats']);
    const queueStats = await app.ask(
      '{ queue(topic: "orders.eu", name: "work") { stats { waiting } } }',
      {},
      await app.keyWith(['consume:orders.eu']),
    );
    expect(refusal(queueStats).message).toBe('Forbidden: Queue.stats needs the scope stats or admin');
  });
});

describe('topic patterns', () => {
  it('should let a pattern scope through exactly its topics, for every topic action', async () => {
    const app = await startScopedApp(harness);
    for (const name of ['orders', 'orders.us', 'orders.eu.returns', 'billing.eu']) {
      await app.engine.createTopic({ name, kind: 'FANOUT' });
    }
    const key = await app.keyWith(['publish:orders.*', 'deadletters:read:*.eu']);
    const publish = (topic: string) =>
      app.ask(
        'mutation ($topic: String!) { publish(input: { topic: $topic, payload: 1 }) { messageId } }',
        {
          topic,
        },
        key,
      );
    for (const topic of ['orders.eu', 'orders.us']) expect((await publish(topic)).errors).toBeUndefined();
    for (const topic of ['orders', 'orders.eu.returns', 'billing.eu', 'invoices']) {
      expect(refusal(await publish(topic)).code, topic).toBe('FORBIDDEN');
    }
    const read = (topic: string) =>
      app.ask(
        'query ($topic: String!) { deadLetters(filter: { topic: $topic }) { totalCount } }',
        { topic },
        key,
      );
    for (const topic of ['orders.eu', 'billing.eu']) expect((await read(topic)).errors).toBeUndefined();
    for (const topic of ['orders.us', 'orders.eu.returns']) {
      expect(refusal(await read(topic)).code, topic).toBe('FORBIDDEN');
    }
    expect((await app.engine.topicStats('orders.eu')).published).toBe(3);
    expect((await app.engine.topicStats('orders')).published).toBe(0);
  });
});
