import { describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../server/auth.js';
import { useAuth } from '../../server/use-auth.js';
import { createYogaApp } from '../../server/yoga.js';
import { useEngineHarness } from '../engine/harness.js';
import { type Body, firstResult } from '../security/scoped-app.js';

/**
 * The acks of one request, sent as aliases, are run together (resolvers/ack.ts): each field must still
 * answer its own outcome, in its own turn, and no ack may pass the authorization its own field has.
 */
const harness = useEngineHarness();
const ADMIN_KEY = 'ack-batch-admin-key-0123456789abcdef';

async function start() {
  const engine = await harness.engine({ runWorkers: false });
  const authenticator = createAuthenticator({ adminKey: ADMIN_KEY, apiKeys: engine.apiKeys });
  const yoga = createYogaApp({ engine, logging: false, plugins: [useAuth({ authenticator })] });
  for (const topic of ['a', 'b']) {
    await engine.createTopic({ name: topic, kind: 'FANOUT' });
    await engine.createQueue({ topic, name: 'q', target: 'CONSUMER' });
  }
  const ask = async (query: string, variables: Record<string, unknown>, key = ADMIN_KEY): Promise<Body> =>
    firstResult(
      await yoga.fetch('http://switchyard.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query, variables }),
      }),
    );
  const deliveries = async (topic: string, count: number) => {
    for (let n = 0; n < count; n++) await engine.publish({ topic, payload: { n } });
    const taken = await engine.receive(topic, 'q', count, 2_000);
    expect(taken).toHaveLength(count);
    return taken.map((delivery) => delivery.id);
  };
  const active = async (topic: string) => (await engine.queueStats({ topic, name: 'q' })).active;
  const completed = async (topic: string) => (await engine.queueStats({ topic, name: 'q' })).completed;
  return { engine, ask, deliveries, active, completed };
}

/** `a0: ack(deliveryId: $d0) a1: …`, as the bench and a batching client send them. */
function acks(count: number): string {
  const ids = Array.from({ length: count }, (_, n) => n);
  return `mutation(${ids.map((n) => `$d${n}: ID!`).join(', ')}) { ${ids.map((n) => `a${n}: ack(deliveryId: $d${n})`).join(' ')} }`;
}
const variables = (ids: string[]) => Object.fromEntries(ids.map((id, n) => [`d${n}`, id]));
const codes = (body: Body) => (body.errors ?? []).map((error) => [error.path, error.extensions?.code]);

describe('acks as aliases of one request', () => {
  it('should ack every delivery named, each field answering true, on both executors', async () => {
    const app = await start();
    // The first run of a document goes through graphql-js, the next ones through the compiled executor.
    for (const round of [1, 2]) {
      const ids = await app.deliveries('a', 5);
      const body = await app.ask(acks(5), variables(ids));
      expect(body).toEqual({ data: { a0: true, a1: true, a2: true, a3: true, a4: true } });
      expect(await app.active('a')).toBe(0);
      expect(await app.completed('a')).toBe(5 * round);
    }
  });

  it('should answer NOT_FOUND for a spent delivery among them, in its field, and ack the others', async () => {
    const app = await start();
    for (const round of [1, 2]) {
      const ids = await app.deliveries('a', 3);
      expect(await app.engine.ack(ids[1] as string)).toBe(true);
      const body = await app.ask(acks(3), variables(ids));
      expect(codes(body)).toEqual([[['a1'], 'NOT_FOUND']]);
      // graphql-js stopped at a failed non-null field and left a2 unacked; now both executors ack it.
      expect(await app.active('a')).toBe(0);
      expect(await app.completed('a')).toBe(3 * round);
    }
  });

  it('should keep the acks of concurrent requests of one document apart', async () => {
    const app = await start();
    const ids = await app.deliveries('a', 40);
    const bodies = await Promise.all(
      [0, 1, 2, 3].map((n) => app.ask(acks(10), variables(ids.slice(10 * n, 10 * n + 10)))),
    );
    for (const body of bodies) expect(body.errors).toBeUndefined();
    expect(await app.completed('a')).toBe(40);
  });

  it('should answer NOT_FOUND for a delivery named twice, acking it once', async () => {
    const app = await start();
    const [id] = await app.deliveries('a', 1);
    const body = await app.ask(acks(2), variables([id as string, id as string]));
    expect(codes(body)).toEqual([[['a1'], 'NOT_FOUND']]);
    expect(await app.completed('a')).toBe(1);
  });

  it("should not ack, through another field's turn, a delivery of a topic the caller may not consume", async () => {
    const app = await start();
    const key = (await app.engine.apiKeys.create('consumer of a', ['consume:a'])).secret;
    const [a0, a2] = await app.deliveries('a', 2);
    const [b1] = await app.deliveries('b', 1);
    const body = await app.ask(acks(3), variables([a0 as string, b1 as string, a2 as string]), key);
    expect(codes(body)).toContainEqual([['a1'], 'FORBIDDEN']);
    expect(await app.active('b')).toBe(1);
    expect(await app.completed('b')).toBe(0);
    expect(await app.completed('a')).toBeGreaterThanOrEqual(1);
  });

  it('should run an ack after a nack of the same request in its turn', async () => {
    const app = await start();
    const [x, y, z] = await app.deliveries('a', 3);
    const body = await app.ask(
      'mutation($x: ID!, $y: ID!, $z: ID!) { a0: ack(deliveryId: $x) n0: nack(deliveryId: $y, reason: REJECTED) a1: ack(deliveryId: $z) a2: ack(deliveryId: $y) }',
      { x, y, z },
    );
    expect(body.data).toEqual(null);
    expect(codes(body)).toEqual([[['a2'], 'NOT_FOUND']]);
    expect(await app.completed('a')).toBe(2);
    expect((await app.engine.queueStats({ topic: 'a', name: 'q' })).deadLettered).toBe(1);
  });
});
