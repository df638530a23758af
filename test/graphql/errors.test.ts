import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TestHealthDocument,
  TestHealthUpDocument,
  TestTopicNamesDocument,
  TestTopicPublishedDocument,
  TestVersionDocument,
} from '../generated/graphql.js';
import { startTestRedis, type TestRedis, waitFor } from '../helpers/redis.js';
import { type Harness, ok, present, refused, startHarness } from './yoga-client.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

/** Runs `test` against a fresh harness and closes it, whatever happens. */
async function withHarness(
  test: (h: Harness) => Promise<void>,
  options?: Parameters<typeof startHarness>[1],
) {
  const h = await startHarness(redis, options);
  try {
    await test(h);
  } finally {
    await h.close();
  }
}

describe('refusals by GraphQL itself', () => {
  it.each([
    ['a syntax error', 'query { topics { name }', undefined, /^Syntax Error/],
    ['an unknown field', '{ topics { nope } }', undefined, /^Cannot query field "nope" on type "Topic"\./],
    ['a literal of the wrong type', '{ topic(name: 5) { name } }', undefined, /String cannot represent/],
    [
      'a missing required argument',
      '{ topic { name } }',
      undefined,
      /argument "name" of type "String!" is required/,
    ],
    [
      'a variable of the wrong type',
      'query ($n: String!) { topic(name: $n) { name } }',
      { n: 5 },
      /Variable "\$n" got invalid value 5/,
    ],
    [
      'a missing variable',
      'query ($n: String!) { topic(name: $n) { name } }',
      {},
      'Variable "$n" of required type "String!" was not provided.',
    ],
    [
      'an input object with an unknown field',
      'mutation ($i: CreateTopicInput!) { createTopic(input: $i) { name } }',
      { i: { name: 'a', kind: 'FANOUT', colour: 'red' } },
      /Field "colour" is not defined by type "CreateTopicInput"/,
    ],
    [
      // graphql-js's single-field-subscription rule throws on this instead of reporting it (found by the fuzz test).
      'a subscription skipped with a bad literal',
      'subscription { stats @skip(if: flse) { windowMs } }',
      {},
      'Argument "if" has invalid value flse.',
    ],
    [
      'a date that is not ISO-8601',
      'query ($f: DeadLetterFilter) { deadLetters(filter: $f) { totalCount } }',
      { f: { from: 'yesterday' } },
      /DateTime must be an ISO-8601 date-time string/,
    ],
  ])('should answer %s with BAD_USER_INPUT and change nothing', async (_, query, variables, message) => {
    await withHarness(async (h) => {
      refused(await h.gql(query, variables), 'BAD_USER_INPUT', message);
      expect(ok(await h.gqlDoc(TestTopicNamesDocument)).topics).toEqual([]);
    });
  });
});

/** A yoga logger that keeps what is logged at `error`, so tests can say what reached the logs. */
function errorLog() {
  const logged: unknown[][] = [];
  const ignore = () => {};
  return {
    logged,
    logger: { debug: ignore, info: ignore, warn: ignore, error: (...args: unknown[]) => logged.push(args) },
  };
}

describe('errors the engine did not mean', () => {
  it('should mask an unexpected error as "Unexpected error." and log the original', async () => {
    const log = errorLog();
    await withHarness(
      async (h) => {
        ok(await h.gql('mutation { createTopic(input: { name: "t", kind: FANOUT }) { name } }'));
        const body = await h.gql('mutation { publish(input: { topic: "t", payload: {} }) { messageId } }');
        const error = refused(body, 'INTERNAL_SERVER_ERROR', 'Unexpected error.');
        expect(JSON.stringify(body)).not.toContain('disk on fire');
        expect(error.path).toEqual(['publish']);
        expect(log.logged.flat().map(String).join('\n')).toContain('disk on fire at /var/lib/redis');
      },
      {
        engine: {
          beforeExec: () => {
            throw new Error('disk on fire at /var/lib/redis');
          },
        },
        yoga: { logging: log.logger },
      },
    );
  });

  it('should not log refused requests as server errors', async () => {
    const log = errorLog();
    await withHarness(
      async (h) => {
        refused(await h.gql('mutation { deleteTopic(name: "nope") }'), 'NOT_FOUND');
        refused(
          await h.gql('mutation { createTopic(input: { name: "a b", kind: FANOUT }) { name } }'),
          'BAD_USER_INPUT',
        );
        const duplicate = 'mutation { createTopic(input: { name: "dup", kind: FANOUT }) { name } }';
        ok(await h.gql(duplicate));
        refused(await h.gql(duplicate), 'CONFLICT');
        expect(log.logged).toEqual([]);
      },
      { yoga: { logging: log.logger } },
    );
  });
});

describe('Redis unavailable', () => {
  it('should answer UNAVAILABLE while Redis is down and report it in health', async () => {
    const own = await startTestRedis();
    // Connection errors while Redis is away are expected here; the answers are what is under test.
    const h = await startHarness(own, { engine: { onError: () => {} } });
    try {
      ok(await h.gql('mutation { createTopic(input: { name: "t", kind: FANOUT }) { name } }'));
      await own.stop();
      // The stop is seen by the client a moment later, as a closed connection.
      const errors = await waitFor(
        async () =>
          (await h.gql('mutation { createTopic(input: { name: "u", kind: FANOUT }) { name } }')).errors,
      );
      refused({ errors }, 'UNAVAILABLE', 'Redis is unavailable; retry later');
      const { health } = ok(await h.gqlDoc(TestHealthUpDocument));
      expect(health).toEqual({ ok: false, redis: false });
    } finally {
      await h.close();
      await own.stop();
    }
  });
  it('should answer UNAVAILABLE, with nothing written, while Redis is out of memory', async () => {
    const own = await startTestRedis();
    const h = await startHarness(own, { engine: { onError: () => {} } });
    const admin = own.client();
    try {
      ok(await h.gql('mutation { createTopic(input: { name: "t", kind: FANOUT }) { name } }'));
      ok(
        await h.gql('mutation { createQueue(input: { topic: "t", name: "q", target: CONSUMER }) { name } }'),
      );
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '1');
      const body = await h.gql('mutation { publish(input: { topic: "t", payload: 1 }) { messageId } }');
      await admin.config('SET', 'maxmemory', '0');
      refused(body, 'UNAVAILABLE', 'Redis is unavailable; retry later');
      const { topic } = ok(await h.gqlDoc(TestTopicPublishedDocument, { name: 't' }));
      expect(present(topic, 'topic t').stats.published).toBe(0);
    } finally {
      await h.close();
      await own.stop();
    }
  });
});

describe('health', () => {
  it('should answer ok, redis, the version and the uptime', async () => {
    await withHarness(
      async (h) => {
        const { health } = ok(await h.gqlDoc(TestHealthDocument));
        expect(health).toEqual({
          ok: true,
          redis: true,
          version: '9.9.9-test',
          uptimeSeconds: expect.any(Number),
        });
        expect(health.uptimeSeconds).toBeGreaterThanOrEqual(90);
        expect(health.uptimeSeconds).toBeLessThan(120);
      },
      { yoga: { version: '9.9.9-test', startedAt: Date.now() - 90_000 } },
    );
  });

  it('should answer the package.json version by default', async () => {
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;
    await withHarness(async (h) => {
      const { health } = ok(await h.gqlDoc(TestVersionDocument));
      expect(health.version).toBe(version);
    });
  });
});

describe('GraphiQL', () => {
  const page = (h: Harness) =>
    h.yoga.fetch('http://switchyard.test/graphql', { headers: { accept: 'text/html' } });

  it('should serve GraphiQL with the example operations preloaded', async () => {
    await withHarness(async (h) => {
      const response = await page(h);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/html');
      const html = await response.text();
      for (const operation of ['CreateTopic', 'CreateWebhookQueue', 'Publish', 'Receive']) {
        expect(html).toContain(`mutation ${operation}`);
      }
    });
  });

  it('should not serve GraphiQL when turned off', async () => {
    await withHarness(
      async (h) => {
        const response = await page(h);
        expect(await response.text()).not.toContain('<html');
      },
      { yoga: { graphiql: false } },
    );
  });

  it('should have no landing page outside /graphql', async () => {
    await withHarness(async (h) => {
      const response = await h.yoga.fetch('http://switchyard.test/', { headers: { accept: 'text/html' } });
      expect(response.status).toBe(404);
    });
  });
});
