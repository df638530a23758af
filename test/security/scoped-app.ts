import { expect } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { createAuthenticator } from '../../server/auth.js';
import { useAuth } from '../../server/use-auth.js';
import { createYogaApp, type YogaApp } from '../../server/yoga.js';
import type { EngineHarness } from '../engine/harness.js';
import { waitFor } from '../helpers/redis.js';

export const SCOPED_ADMIN_KEY = 'scoped-admin-key-0123456789abcdef';
const ENDPOINT = 'http://switchyard.test/graphql';

export interface Body {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: unknown[]; extensions?: Record<string, unknown> }>;
}

/** What a scoped app holds before each check: a consumer delivery in hand and a dead letter. */
export interface Fixture {
  deliveryId: string;
  deadLetterId: string;
}

export interface ScopedApp {
  engine: Engine;
  /** The gateway's HTTP pipeline with authentication (keys mode), no audit log, no rate limits. */
  yoga: YogaApp;
  fixture: Fixture;
  /** A new API key with these scopes; answers its secret. */
  keyWith(scopes: string[]): Promise<string>;
  /** POSTs one operation; JSON, or the first result of an event stream for subscriptions. */
  ask(query: string, variables?: Record<string, unknown>, key?: string): Promise<Body>;
  /** What a refused operation must leave as it was: topology, counters, messages, keys. */
  state(): Promise<unknown>;
}

/**
 * Topics `orders.eu` (TOPIC: consumer queue `work`, webhook queue `hook`) and `invoices` (FANOUT),
 * one dead letter in orders.eu/work and one delivery of it held, behind the gateway's own auth.
 */
export async function startScopedApp(harness: EngineHarness): Promise<ScopedApp> {
  const engine = await harness.engine({ runWorkers: false });
  const authenticator = createAuthenticator({ adminKey: SCOPED_ADMIN_KEY, apiKeys: engine.apiKeys });
  const yoga = createYogaApp({ engine, logging: false, plugins: [useAuth({ authenticator })] });
  await engine.createTopic({ name: 'orders.eu', kind: 'TOPIC' });
  await engine.createTopic({ name: 'invoices', kind: 'FANOUT' });
  await engine.createQueue({
    topic: 'orders.eu',
    name: 'work',
    bindingKey: '#',
    target: 'CONSUMER',
    retry: { maxAttempts: 1 },
  });
  await engine.createQueue({
    topic: 'orders.eu',
    name: 'hook',
    bindingKey: 'never',
    target: 'WEBHOOK',
    url: 'http://127.0.0.1:9/hook',
  });
  await engine.publish({ topic: 'orders.eu', routingKey: 'a', payload: { n: 1 } });
  const [failing] = await engine.receive('orders.eu', 'work', 1, 2_000);
  if (!failing) throw new Error('no delivery to dead-letter');
  await engine.nack(failing.id, 'REJECTED', 'declined');
  await engine.publish({ topic: 'orders.eu', routingKey: 'b', payload: { n: 2 } });
  const [held] = await engine.receive('orders.eu', 'work', 1, 2_000);
  if (!held) throw new Error('no delivery to hold');
  const fixture = { deliveryId: held.id, deadLetterId: `orders.eu/work/${failing.message.id}` };
  await waitFor(async () => (await engine.deadLetters.get(fixture.deadLetterId)) !== null, {
    message: 'the dead letter was not indexed',
  });

  const ask = async (query: string, variables?: Record<string, unknown>, key?: string) => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json, text/event-stream',
    };
    if (key) headers.authorization = `Bearer ${key}`;
    const response = await yoga.fetch(ENDPOINT, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
    });
    return firstResult(response);
  };

  return {
    engine,
    yoga,
    fixture,
    async keyWith(scopes) {
      return (await engine.apiKeys.create(`key ${scopes.join(' ')}`, scopes)).secret;
    },
    ask,
    async state() {
      const topics = await engine.topics();
      const queues = await Promise.all(topics.map((topic) => engine.queues(topic.name)));
      const counts = await Promise.all(
        queues.flat().map(async (queue) => [queue.name, await engine.queueStats(queue)]),
      );
      const published = await Promise.all(topics.map((topic) => engine.topicStats(topic.name)));
      const page = await engine.deadLetters.page({}, { first: 100, after: null });
      const keys = await engine.apiKeys.list();
      return {
        topics,
        queues,
        counts,
        published,
        deadLetters: page.edges.map((edge) => [edge.node.id, edge.node.replayCount]),
        keys: keys.map((key) => key.id),
      };
    },
  };
}

/** The one result of a JSON answer, or the first `next` of an event stream (read to its end). */
export async function firstResult(response: Response): Promise<Body> {
  const text = await response.text();
  if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    return JSON.parse(text) as Body;
  }
  const data = text.split('\n').find((line) => line.startsWith('data: {'));
  if (!data) throw new Error(`no result in the event stream: ${text.slice(0, 200)}`);
  return JSON.parse(data.slice('data: '.length)) as Body;
}

/** The code of the one error of a refused answer, and its message. */
export function refusal(body: Body): { code: unknown; message: string } {
  expect(body.errors, JSON.stringify(body)).toHaveLength(1);
  const [error] = body.errors ?? [];
  return { code: error?.extensions?.code, message: error?.message ?? '' };
}

/** A subscription over SSE read incrementally: `next()` answers each result; `close()` ends it. */
export async function openStream(yoga: YogaApp, query: string, key: string) {
  const controller = new AbortController();
  const response = await yoga.fetch(ENDPOINT, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      authorization: `Bearer ${key}`,
    },
    body: JSON.stringify({ query }),
    signal: controller.signal,
  });
  const body = response.body;
  if (!body) throw new Error('no event stream');
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  return {
    /** The next `next` event's result; null when the stream ended first. */
    async next(): Promise<Body | null> {
      // Bounded: a stream ends, or the test's own timeout stops it.
      for (;;) {
        const data = buffered.split('\n').find((line) => line.startsWith('data: {'));
        if (data) {
          buffered = buffered.slice(buffered.indexOf(data) + data.length);
          return JSON.parse(data.slice('data: '.length)) as Body;
        }
        const chunk = await reader.read();
        if (chunk.done) return null;
        buffered += chunk.value;
      }
    },
    close() {
      controller.abort();
      void reader.cancel().catch(() => {});
    },
  };
}
