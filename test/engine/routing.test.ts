import { describe, expect, it } from 'vitest';
import type { Headers } from '../../queues/core/types.js';
import type { Engine } from '../../queues/engine/engine.js';
import { useEngineHarness } from './harness.js';

const harness = useEngineHarness();

/** How many messages each named queue of the topic holds, waiting for delivery. */
async function depths(engine: Engine, topic: string, names: string[]): Promise<Record<string, number>> {
  const entries = await Promise.all(
    names.map(async (name) => [name, (await engine.queueStats({ topic, name })).waiting] as const),
  );
  return Object.fromEntries(entries);
}

/** Publishes one message per routing key (or header set) and answers each publish's routedTo. */
async function routes(
  engine: Engine,
  topic: string,
  messages: Array<{ routingKey?: string; headers?: Headers }>,
): Promise<string[][]> {
  const routed: string[][] = [];
  for (const message of messages)
    routed.push((await engine.publish({ topic, payload: message, ...message })).routedTo);
  return routed;
}

describe('publish routes by topic kind', () => {
  it('should put a FANOUT message into every queue of the topic', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'events', kind: 'FANOUT' });
    for (const name of ['c', 'a', 'b'])
      await engine.createQueue({ topic: 'events', name, target: 'CONSUMER' });

    const result = await engine.publish({ topic: 'events', payload: { n: 1 } });

    expect(result.routedTo).toEqual(['a', 'b', 'c']);
    expect(await depths(engine, 'events', ['a', 'b', 'c'])).toEqual({ a: 1, b: 1, c: 1 });
    for (const name of ['a', 'b', 'c']) {
      const [delivery] = await engine.receive('events', name, 10, 1000);
      expect(delivery?.message.id).toBe(result.messageId);
      expect(delivery?.message.payload).toEqual({ n: 1 });
    }
  });

  it('should put a DIRECT message only into queues whose binding key equals the routing key', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'orders', kind: 'DIRECT' });
    await engine.createQueue({
      topic: 'orders',
      name: 'created',
      target: 'CONSUMER',
      bindingKey: 'order.created',
    });
    await engine.createQueue({
      topic: 'orders',
      name: 'audit',
      target: 'CONSUMER',
      bindingKey: 'order.created',
    });
    await engine.createQueue({ topic: 'orders', name: 'paid', target: 'CONSUMER', bindingKey: 'order.paid' });

    const routed = await routes(engine, 'orders', [
      { routingKey: 'order.created' },
      { routingKey: 'order.paid' },
      { routingKey: 'order' },
      { routingKey: 'order.created.eu' },
      { routingKey: 'ORDER.PAID' },
      {},
    ]);

    expect(routed).toEqual([['audit', 'created'], ['paid'], [], [], [], []]);
    expect(await depths(engine, 'orders', ['created', 'audit', 'paid'])).toEqual({
      created: 1,
      audit: 1,
      paid: 1,
    });
    const [paid] = await engine.receive('orders', 'paid', 10, 1000);
    expect(paid?.message.routingKey).toBe('order.paid');
  });

  it('should match TOPIC patterns word by word, * for one word and # for zero or more', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'logs', kind: 'TOPIC' });
    const bindings = { star: 'order.*', hash: 'order.#', middle: '*.created.#', exact: 'order.created' };
    for (const [name, bindingKey] of Object.entries(bindings)) {
      await engine.createQueue({ topic: 'logs', name, target: 'CONSUMER', bindingKey });
    }

    const routed = await routes(engine, 'logs', [
      { routingKey: 'order.created' },
      { routingKey: 'order' },
      { routingKey: 'order.created.eu.north' },
      { routingKey: 'invoice.created' },
      { routingKey: 'invoice.paid' },
      { routingKey: 'orders.created.x' },
    ]);

    expect(routed).toEqual([
      ['exact', 'hash', 'middle', 'star'],
      ['hash'],
      ['hash', 'middle'],
      ['middle'],
      [],
      ['middle'],
    ]);
    expect(await depths(engine, 'logs', Object.keys(bindings))).toEqual({
      star: 1,
      hash: 3,
      middle: 4,
      exact: 1,
    });
  });

  it('should match HEADERS bindings on ALL or ANY of their header values', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'jobs', kind: 'HEADERS' });
    const binding = { type: 'report', format: 'pdf' };
    await engine.createQueue({
      topic: 'jobs',
      name: 'all',
      target: 'CONSUMER',
      headers: binding,
      headerMatch: 'ALL',
    });
    await engine.createQueue({
      topic: 'jobs',
      name: 'any',
      target: 'CONSUMER',
      headers: binding,
      headerMatch: 'ANY',
    });

    const routed = await routes(engine, 'jobs', [
      { headers: { type: 'report', format: 'pdf', extra: 'x' } },
      { headers: { type: 'report', format: 'csv' } },
      { headers: { format: 'pdf' } },
      { headers: { type: 'invoice' } },
      {},
    ]);

    expect(routed).toEqual([['all', 'any'], ['any'], ['any'], [], []]);
    expect(await depths(engine, 'jobs', ['all', 'any'])).toEqual({ all: 1, any: 3 });
    const [delivery] = await engine.receive('jobs', 'all', 10, 1000);
    expect(delivery?.message.headers).toEqual({ type: 'report', format: 'pdf', extra: 'x' });
  });
});

describe('unrouted messages', () => {
  it('should accept a message no queue matches with routedTo [] and count it as unrouted', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'empty', kind: 'FANOUT' });
    await engine.createTopic({ name: 'keyed', kind: 'DIRECT' });
    await engine.createQueue({ topic: 'keyed', name: 'only', target: 'CONSUMER', bindingKey: 'k' });

    const lonely = await engine.publish({ topic: 'empty', payload: 1 });
    const missed = await engine.publish({ topic: 'keyed', payload: 2, routingKey: 'other' });
    const hit = await engine.publish({ topic: 'keyed', payload: 3, routingKey: 'k' });

    expect(lonely).toMatchObject({ duplicate: false, routedTo: [] });
    expect(lonely.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(missed.routedTo).toEqual([]);
    expect(hit.routedTo).toEqual(['only']);
    expect(await engine.topicStats('empty')).toEqual({ published: 1, unrouted: 1, deadLettered: 0 });
    expect(await engine.topicStats('keyed')).toEqual({ published: 2, unrouted: 1, deadLettered: 0 });
    expect(await depths(engine, 'keyed', ['only'])).toEqual({ only: 1 });
  });
});
