import { expect } from 'vitest';
import { createEngine, type Engine, type EngineOptions } from '../../queues/engine/engine.js';
import { createYogaApp, type YogaApp, type YogaAppOptions } from '../../server/yoga.js';
import type { TypedDocument, VariablesArg } from '../helpers/documents.js';
import { type TestRedis, uniquePrefix } from '../helpers/redis.js';

export interface GraphQLErrorBody {
  message: string;
  path?: (string | number)[];
  extensions?: Record<string, unknown>;
}

export interface GraphQLBody<T> {
  data?: T | null;
  errors?: GraphQLErrorBody[];
}

/**
 * A request as text. Each call names the shape it selected: `gql<{ topic: { name: string } | null }>(...)`;
 * prefer {@link GqlDoc}, whose shape comes from the schema, unless the request must break its types.
 */
export type Gql = <T = unknown>(
  query: string,
  variables?: Record<string, unknown>,
) => Promise<GraphQLBody<T>>;

/**
 * Sends a generated document; its answer is typed by the schema. Requests that must be refused for
 * input the schema's types forbid (an unknown enum value, a missing field) go through {@link Gql}.
 */
export type GqlDoc = <TResult, TVariables>(
  document: TypedDocument<TResult, TVariables>,
  ...variables: VariablesArg<TVariables>
) => Promise<GraphQLBody<TResult>>;

/** POSTs through `yoga.fetch`: the whole HTTP pipeline, with no listener. */
export function createGql(yoga: YogaApp): Gql {
  return async (query, variables) => {
    const response = await yoga.fetch('http://switchyard.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query, variables }),
    });
    return response.json();
  };
}

/** {@link createGql} for generated documents. */
export function createGqlDoc(yoga: YogaApp): GqlDoc {
  const gql = createGql(yoga);
  return (document, ...[variables]) =>
    gql(document.toString(), variables as Record<string, unknown> | undefined);
}

/** The data of an answer that must have succeeded; a failure shows the errors, not "undefined". */
export function ok<T>(body: GraphQLBody<T>): T {
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  if (body.data == null) throw new Error('answer has neither errors nor data');
  return body.data;
}

/** A value the test needs to be there (a topic or queue it created): a clear failure otherwise. */
export function present<T>(value: T | null | undefined, what: string): T {
  if (value == null) throw new Error(`expected ${what}, got ${value}`);
  return value;
}

/** The single error of a refused request, after checking its code (and its message, when given). */
export function refused<T>(body: GraphQLBody<T>, code: string, message?: string | RegExp): GraphQLErrorBody {
  expect(body.errors, JSON.stringify(body)).toHaveLength(1);
  const [error] = body.errors ?? [];
  if (!error) throw new Error('no error');
  expect(error.extensions?.code, JSON.stringify(error)).toBe(code);
  if (typeof message === 'string') expect(error.message).toBe(message);
  else if (message) expect(error.message).toMatch(message);
  return error;
}

export interface Harness {
  engine: Engine;
  yoga: YogaApp;
  gql: Gql;
  gqlDoc: GqlDoc;
  close(): Promise<void>;
}

/**
 * An engine with a key prefix of its own and a yoga app on it, for one test, without authentication
 * (every request is served as admin; test/security covers auth and scopes). Webhook delivery workers
 * are off unless asked for: these tests are about the GraphQL surface, and a BullMQ worker closed
 * while its blocking connection is still starting rejects a promise nobody awaits.
 */
export async function startHarness(
  redis: TestRedis,
  options: { engine?: Partial<EngineOptions>; yoga?: Partial<YogaAppOptions> } = {},
): Promise<Harness> {
  const engine = await createEngine({
    redisUrl: redis.url,
    keyPrefix: uniquePrefix(),
    onError: (error) => console.error(error),
    runWorkers: false,
    // The receivers listen on loopback, which the SSRF guard refuses by default.
    webhookPolicy: { allowPrivate: true },
    ...options.engine,
  });
  const yoga = createYogaApp({ engine, authDisabled: true, ...options.yoga });
  return { engine, yoga, gql: createGql(yoga), gqlDoc: createGqlDoc(yoga), close: () => engine.close() };
}
