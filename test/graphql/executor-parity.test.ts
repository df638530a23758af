import type { Plugin } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../queues/engine/engine.js';
import type { Caller } from '../../queues/security/index.js';
import { createCompiledExecute } from '../../server/use-compiled-execute.js';
import { createYogaApp, type YogaApp } from '../../server/yoga.js';
import { startTestRedis, type TestRedis, uniquePrefix } from '../helpers/redis.js';

/**
 * The gateway runs queries and mutations on graphql-jit (server/use-compiled-execute.ts); graphql-js
 * is the reference. Every step below runs on two apps that differ only in the executor, each on an
 * engine of its own, in the same order with the same input, and their answers must be the same:
 * data, error messages, paths, locations and codes, masking, and the HTTP status. The compiled side
 * compiles every document on first sight, and each step says which executor must have answered
 * there, so a step cannot pass by quietly running on graphql-js.
 */

interface Answer {
  status: number;
  body: unknown;
}

type Ask = (
  query: string,
  variables?: Record<string, unknown>,
  scopes?: string,
  operationName?: string,
) => Promise<Answer>;

interface Side {
  engine: Engine;
  yoga: YogaApp;
  ask: Ask;
  /** Which executor answered each execution since the last `take`. */
  take(): string[];
}

/** `x-test-scopes`: absent is an admin caller, `none` no caller at all, else a key with those scopes. */
function callerFromHeader(): Plugin {
  return {
    onParams({ request, context }) {
      const header = request.headers.get('x-test-scopes');
      if (header === 'none') return;
      const scopes = header === null ? ['admin'] : header.split(',');
      const key = {
        id: 'k1',
        name: 'parity',
        scopes,
        createdAt: '2026-01-01T00:00:00.000Z',
        lastUsedAt: null,
      };
      const auth: Caller = { key, admin: scopes.includes('admin'), loopback: false, scopes };
      Object.assign(context, { auth });
    },
  };
}

async function startSide(redis: TestRedis, compiled: boolean): Promise<Side> {
  const engine = await createEngine({
    redisUrl: redis.url,
    keyPrefix: uniquePrefix(),
    onError: (error) => console.error(error),
    runWorkers: false,
  });
  let runs: string[] = [];
  const observed = createCompiledExecute({ compileAfterRuns: 0, onRun: (executor) => runs.push(executor) });
  const executor: Plugin = {
    onExecute({ setExecuteFn }) {
      if (compiled) setExecuteFn(observed);
    },
  };
  const yoga = createYogaApp({
    engine,
    logging: false,
    executor: compiled ? 'compiled' : 'graphql-js',
    plugins: [callerFromHeader(), executor],
  });
  const ask: Ask = async (query, variables, scopes, operationName) => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
    };
    if (scopes !== undefined) headers['x-test-scopes'] = scopes;
    const response = await yoga.fetch('http://switchyard.test/graphql', {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables, operationName }),
    });
    return { status: response.status, body: await response.json() };
  };
  const take = () => {
    const taken = runs;
    runs = [];
    return taken;
  };
  return { engine, yoga, ask, take };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const TIME = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g;

/** Ids, times and secrets differ between the two engines by design; everything else must not. */
function normalized(answers: readonly Answer[]): unknown {
  const text = JSON.stringify(answers)
    .replace(UUID, '<uuid>')
    .replace(TIME, '<time>')
    .replace(/"signingSecret":"[^"]*"/g, '"signingSecret":"<secret>"')
    .replace(/"uptimeSeconds":\d+(\.\d+)?/g, '"uptimeSeconds":0');
  return JSON.parse(text);
}

interface Step {
  name: string;
  /** Which executor must have answered each execution on the compiled side, in order. */
  ran: readonly string[];
  run(ask: Ask): Promise<Answer[]>;
}

/** One operation, asked once. */
const once = (
  name: string,
  ran: readonly string[],
  query: string,
  variables?: Record<string, unknown>,
  scopes?: string,
): Step => ({ name, ran, run: async (ask) => [await ask(query, variables, scopes)] });

const TOPIC_FIELDS = 'name kind description maxMessageBytes payloadSchema createdAt queues { name }';
const QUEUE_FIELDS =
  'name topic bindingKey target deliveryMode concurrency ackTimeoutMs maxPriority paused ' +
  'retry { maxAttempts backoff delayMs maxDelayMs jitter } stats { waiting paused }';
const PUBLISH = 'mutation($input: PublishInput!) { publish(input: $input) { messageId duplicate routedTo } }';
const PUBLISH_BATCH =
  'mutation TestPublishBatch($inputs: [PublishInput!]!) { publishBatch(inputs: $inputs) { messageId duplicate routedTo } }';
const DRAIN =
  'mutation($topic: String!, $queue: String!, $max: Int) { receive(topic: $topic, queue: $queue, max: $max) { id attempt message { id topic routingKey headers payload priority correlationId replyTo idempotencyKey sha256 sizeBytes orderingKey publishedAt expiresAt } } }';

/** The delivery ids of a receive answer. */
function deliveryIds(answer: Answer): string[] {
  const data = (answer.body as { data?: { receive?: { id: string }[] } }).data;
  return (data?.receive ?? []).map((delivery) => delivery.id);
}

const steps: Step[] = [
  once(
    'createTopic with an input variable and fragments',
    ['compiled'],
    `mutation TestCreateTopic($input: CreateTopicInput!) { createTopic(input: $input) { ...T } } fragment T on Topic { ${TOPIC_FIELDS} }`,
    { input: { name: 'orders', kind: 'TOPIC', description: 'Order events', maxMessageBytes: 4096 } },
  ),
  once(
    'createTopic with an inline input literal',
    ['compiled'],
    `mutation { createTopic(input: { name: "audit", kind: FANOUT }) { ${TOPIC_FIELDS} } }`,
  ),
  once(
    'createQueue',
    ['compiled'],
    `mutation($input: CreateQueueInput!) { createQueue(input: $input) { ${QUEUE_FIELDS} } }`,
    {
      input: {
        topic: 'orders',
        name: 'eu',
        bindingKey: 'order.eu.*',
        target: 'CONSUMER',
        retry: { maxAttempts: 2, backoff: 'FIXED', delayMs: 10 },
      },
    },
  ),
  once(
    'updateQueue',
    ['compiled'],
    `mutation($topic: String!, $name: String!, $input: UpdateQueueInput!) { updateQueue(topic: $topic, name: $name, input: $input) { ${QUEUE_FIELDS} } }`,
    { topic: 'orders', name: 'eu', input: { ackTimeoutMs: 5000 } },
  ),
  once('publish with variables', ['compiled'], PUBLISH, {
    input: {
      topic: 'orders',
      routingKey: 'order.eu.created',
      payload: { sku: 'a', qty: 3, nested: [1, 'two', null, { deep: true }] },
      headers: { region: 'eu' },
      priority: 4,
      correlationId: 'c-1',
      replyTo: 'r-1',
      idempotencyKey: 'k-1',
    },
  }),
  once('publish: the same idempotency key again is a duplicate', ['compiled'], PUBLISH, {
    input: { topic: 'orders', routingKey: 'order.eu.created', payload: { sku: 'a' }, idempotencyKey: 'k-1' },
  }),
  once('publishBatch: one input object coerced to a list', ['compiled'], PUBLISH_BATCH, {
    inputs: { topic: 'orders', routingKey: 'order.eu.updated', payload: 'just a string' },
  }),
  once(
    'publish with the payload written inline, no variables inside',
    ['compiled'],
    'mutation { publish(input: { topic: "orders", routingKey: "order.eu.x", payload: { n: 1, f: 1.5, s: "x", l: [true, null], o: { e: {} } } }) { routedTo } }',
  ),
  once(
    'publish with a variable inside an inline payload (graphql-js answers)',
    ['graphql-js'],
    'mutation($q: Int) { publish(input: { topic: "orders", routingKey: "order.eu.y", payload: { sku: "b", qty: $q } }) { routedTo } }',
    { q: 7 },
  ),
  {
    name: 'receive, then ack one and nack another as aliases of one request',
    ran: ['compiled', 'compiled'],
    async run(ask) {
      const received = await ask(DRAIN, { topic: 'orders', queue: 'eu', max: 100 });
      const [first, second] = deliveryIds(received);
      const settled = await ask(
        'mutation($a: ID!, $n: ID!) { a0: ack(deliveryId: $a) n0: nack(deliveryId: $n, reason: REJECTED, retryAfterMs: 0) }',
        { a: first, n: second },
      );
      return [received, settled];
    },
  },
  once(
    'queries: topics, topic, queue, stats, health, aliases, __typename, @skip and @include',
    ['compiled'],
    `query($name: String!, $skip: Boolean!, $show: Boolean!) {
      topics { name kind __typename }
      one: topic(name: $name) { name queues { name target } stats { published unrouted } }
      none: topic(name: "missing") { name }
      queue(topic: $name, name: "eu") { name stats { waiting active deadLettered } paused @skip(if: $skip) bindingKey @include(if: $show) }
      health { ok redis version }
    }`,
    { name: 'orders', skip: true, show: false },
  ),
  once(
    'introspection',
    ['compiled'],
    '{ __schema { queryType { name } mutationType { name } } __type(name: "PublishInput") { name kind inputFields { name type { kind name ofType { name } } } } }',
  ),
  {
    name: 'several operations, each chosen by name',
    ran: ['compiled', 'compiled'],
    run: async (ask) => {
      const document = 'query A { topics { name } } query B { health { ok } }';
      return [await ask(document, undefined, undefined, 'A'), await ask(document, undefined, undefined, 'B')];
    },
  },
  // Refusals of the variables: graphql-jit words them otherwise, so graphql-js answers every one.
  once('a variable of the wrong type', ['graphql-js'], 'query($n: String!) { topic(name: $n) { name } }', {
    n: 5,
  }),
  once('a missing required variable', ['graphql-js'], 'query($n: String!) { topic(name: $n) { name } }', {}),
  once('an input object with an unknown field', ['graphql-js'], PUBLISH, {
    input: { topic: 'orders', payload: 1, colour: 'red' },
  }),
  once('null for a non-null input field', ['graphql-js'], PUBLISH, {
    input: { topic: 'orders', payload: null },
  }),
  once(
    'an unknown enum value',
    ['graphql-js'],
    'mutation($id: ID!, $r: FailureReason) { nack(deliveryId: $id, reason: $r) }',
    {
      id: 'x',
      r: 'BORED',
    },
  ),
  once('an Int out of range', ['graphql-js'], PUBLISH, {
    input: { topic: 'orders', payload: 1, priority: 2 ** 31 },
  }),
  once('a Float for an Int', ['graphql-js'], PUBLISH, {
    input: { topic: 'orders', payload: 1, priority: 1.5 },
  }),
  once(
    'a DateTime that is not ISO-8601',
    ['graphql-js'],
    'query($from: DateTime) { topicHistory(topic: "orders", from: $from) { pageInfo { hasNextPage } } }',
    { from: 'yesterday' },
  ),
  // Refusals during execution: the engine's codes, scope refusals, and null where data stops.
  once('NOT_FOUND from a resolver', ['compiled'], PUBLISH, { input: { topic: 'nope', payload: 1 } }),
  once('BAD_USER_INPUT from the engine', ['compiled'], PUBLISH, {
    input: { topic: 'orders', payload: 1, priority: 42 },
  }),
  once(
    'one failing alias among succeeding ones',
    ['compiled'],
    'mutation { ok: publish(input: { topic: "audit", payload: 1 }) { routedTo } bad: publish(input: { topic: "nope", payload: 2 }) { routedTo } after: publish(input: { topic: "audit", payload: 3 }) { routedTo } }',
  ),
  once(
    'FORBIDDEN for a key without the scope',
    ['compiled'],
    PUBLISH,
    { input: { topic: 'orders', payload: 1 } },
    'consume:orders',
  ),
  once(
    'a key with the scope publishes',
    ['compiled'],
    PUBLISH,
    { input: { topic: 'orders', routingKey: 'order.eu.z', payload: 1 } },
    'publish:orders',
  ),
  once('UNAUTHENTICATED without a caller', ['compiled'], '{ topics { name } }', undefined, 'none'),
  once(
    'a topology query a scoped key may partly read',
    ['compiled'],
    '{ topics { name } health { ok } }',
    undefined,
    'publish:orders',
  ),
];

let redis: TestRedis;
let compiled: Side;
let reference: Side;

beforeAll(async () => {
  redis = await startTestRedis();
  compiled = await startSide(redis, true);
  reference = await startSide(redis, false);
});

afterAll(async () => {
  await compiled?.engine.close();
  await reference?.engine.close();
  await redis?.stop();
});

describe('graphql-jit against graphql-js', () => {
  // In order: later steps read what earlier ones stored.
  for (const step of steps) {
    it(`should answer the same: ${step.name}`, async () => {
      const mine = await step.run(compiled.ask);
      const theirs = await step.run(reference.ask);
      expect(normalized(mine)).toEqual(normalized(theirs));
      expect(compiled.take()).toEqual(step.ran);
    });
  }

  /** Asks on both sides while `engine.topics` answers `topics` instead of the stored topics. */
  async function withTopics(topics: () => Promise<unknown>, query: string): Promise<Answer[]> {
    const answers: Answer[] = [];
    for (const side of [compiled, reference]) {
      const original = side.engine.topics;
      side.engine.topics = topics as Engine['topics'];
      try {
        answers.push(await side.ask(query));
      } finally {
        side.engine.topics = original;
      }
    }
    return answers;
  }

  it('should mask an unexpected error the same way', async () => {
    const [mine, theirs] = await withTopics(
      () => Promise.reject(new Error('secret detail')),
      '{ topics { name } health { ok } }',
    );
    expect(JSON.stringify(mine)).not.toContain('secret detail');
    expect(normalized([mine as Answer])).toEqual(normalized([theirs as Answer]));
    expect(compiled.take()).toEqual(['compiled']);
  });

  it('should answer a null where the schema forbids one the same way: masked', async () => {
    const broken = [
      { name: 'fine', kind: 'FANOUT', maxMessageBytes: 10 },
      { name: null, kind: 'FANOUT', maxMessageBytes: 10 },
    ];
    const [mine, theirs] = await withTopics(
      () => Promise.resolve(broken),
      '{ topics { name } health { ok } }',
    );
    expect(JSON.stringify(mine)).toContain('Unexpected error.');
    expect(normalized([mine as Answer])).toEqual(normalized([theirs as Answer]));
    expect(compiled.take()).toEqual(['compiled']);
  });

  it('should answer a value that does not serialize the same way', async () => {
    const broken = [{ name: 'odd', kind: 'FANOUT', maxMessageBytes: 'many' }];
    const [mine, theirs] = await withTopics(
      () => Promise.resolve(broken),
      '{ topics { name maxMessageBytes } health { ok } }',
    );
    expect(JSON.stringify(mine)).toContain('many');
    expect(normalized([mine as Answer])).toEqual(normalized([theirs as Answer]));
    expect(compiled.take()).toEqual(['compiled']);
  });
});
