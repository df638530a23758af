import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLimits } from '../../server/use-limits.js';
import { createGql, type Harness, refused, startHarness } from '../graphql/yoga-client.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const LIMITS: RequestLimits = {
  maxDepth: 4,
  maxCost: 15,
  maxAliases: 2,
  maxDirectives: 3,
  maxTokens: 200,
  maxRequestBytes: 4096,
  introspection: true,
};

let redis: TestRedis;
const harnesses: Harness[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
});
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((harness) => harness.close()));
});
afterAll(async () => {
  await redis?.stop();
});

async function start(limits: RequestLimits = LIMITS): Promise<Harness> {
  const harness = await startHarness(redis, { yoga: { limits, logging: false } });
  harnesses.push(harness);
  return harness;
}

const ATTACKS: [name: string, query: string, message: RegExp][] = [
  [
    'depth',
    '{ __type(name: "Query") { fields { type { ofType { ofType { name } } } } } }',
    /depth limit of 4/,
  ],
  ['aliases', '{ a: health { ok } b: health { ok } c: health { ok } }', /Aliases limit of 2/],
  [
    'directives',
    '{ health @skip(if: false) @skip(if: false) @skip(if: false) @skip(if: false) { ok } }',
    /Directives limit of 3/,
  ],
  ['tokens', `{ ${'__typename '.repeat(250)} }`, /Token limit of 200/],
  [
    'cost',
    '{ topics { name kind description maxMessageBytes queues { name topic url paused } } }',
    /Cost limit of 15 exceeded, found 20/,
  ],
];

describe('query limits (graphql-armor)', () => {
  it.each(ATTACKS)(
    'should refuse a %s attack with BAD_USER_INPUT before execution',
    async (_name, query, message) => {
      const { gql } = await start();
      const body = await gql(query);
      expect(body.errors?.[0]?.message).toMatch(message);
      expect(body.errors?.every((error) => error.extensions?.code === 'BAD_USER_INPUT')).toBe(true);
      expect(body.data).toBeUndefined();
    },
  );

  it('should hold every limit on every request of one server', async () => {
    const { gql } = await start();
    for (let round = 0; round < 2; round++) {
      for (const [, query, message] of ATTACKS) {
        expect((await gql(query)).errors?.[0]?.message).toMatch(message);
        expect((await gql('{ health { ok } }')).errors).toBeUndefined();
      }
    }
  });

  it('should change nothing when a mutation is refused', async () => {
    const { gql, engine } = await start();
    const body = await gql(
      'mutation { a: createTopic(input: { name: "a", kind: FANOUT }) { name } b: createTopic(input: { name: "b", kind: FANOUT }) { name } c: createTopic(input: { name: "c", kind: FANOUT }) { name } }',
    );
    refused(body, 'BAD_USER_INPUT', /Aliases limit/);
    expect(await engine.topics()).toEqual([]);
  });

  it('should let ordinary operations through', async () => {
    const { gql } = await start();
    expect(await gql('{ health { ok } topics { name } }')).toEqual({
      data: { health: { ok: true }, topics: [] },
    });
  });
});

describe('request body size', () => {
  it('should refuse a declared length over the limit with 413 PAYLOAD_TOO_LARGE', async () => {
    const { yoga } = await start();
    const response = await yoga.fetch('http://switchyard.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ health { ok } }', variables: { pad: 'x'.repeat(8192) } }),
    });
    expect(response.status).toBe(413);
    refused(
      await response.json(),
      'PAYLOAD_TOO_LARGE',
      'Request body is larger than 4096 bytes (SWITCHYARD_MAX_REQUEST_BYTES)',
    );
  });

  it('should refuse a streamed body without a length once it passes the limit', async () => {
    const { yoga } = await start();
    const chunk = new TextEncoder().encode(
      `{"query":"{ health { ok } }","variables":{"pad":"${'x'.repeat(1000)}`,
    );
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Bounded: at most 20 KiB, far past the limit, then the stream ends.
        if (sent >= 20) return controller.close();
        sent += 1;
        controller.enqueue(sent === 1 ? chunk : new TextEncoder().encode('x'.repeat(1000)));
      },
    });
    const response = await yoga.fetch('http://switchyard.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    refused(await response.json(), 'PAYLOAD_TOO_LARGE');
  });
});

describe('without limits', () => {
  it('should not apply any query limit to a yoga app created without them', async () => {
    const harness = await startHarness(redis, { yoga: { logging: false } });
    harnesses.push(harness);
    const gql = createGql(harness.yoga);
    expect((await gql('{ a: health { ok } b: health { ok } c: health { ok } }')).errors).toBeUndefined();
  });
});

describe('requests yoga cannot take', () => {
  const send = async (yoga: Harness['yoga'], init: RequestInit & { search?: string }) => {
    const response = await yoga.fetch(`http://switchyard.test/graphql${init.search ?? ''}`, {
      ...init,
      headers: { accept: 'application/json', ...init.headers },
    });
    return { status: response.status, body: await response.json() };
  };

  it.each([
    [
      'a body of a type no parser takes',
      { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' },
      415,
      /Unsupported content type "text\/plain"/,
    ],
    [
      'a body that is not JSON',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":' },
      400,
      /invalid JSON/,
    ],
    [
      'variables that are not an object',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"query":"{ health { ok } }","variables":true}',
      },
      400,
      /"variables" param/,
    ],
    [
      'GET variables that are not JSON',
      { method: 'GET', search: '?query=%7B%20health%20%7B%20ok%20%7D%20%7D&variables=nope' },
      400,
      /could not be read/,
    ],
    [
      'a mutation over GET',
      { method: 'GET', search: '?query=mutation%20%7B%20deleteTopic(name%3A%20%22x%22)%20%7D' },
      405,
      /mutation operation from a POST request/,
    ],
  ])('should refuse %s with BAD_USER_INPUT as a GraphQL error', async (_name, init, status, message) => {
    const { yoga } = await start();
    const answer = await send(yoga, init);
    expect(answer.status).toBe(status);
    refused(answer.body, 'BAD_USER_INPUT', message);
  });
});
