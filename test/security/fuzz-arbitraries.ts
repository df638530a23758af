/**
 * fast-check arbitraries for the fuzz test: GraphQL documents built from the schema's own names (so
 * many of them parse and validate and reach the scope checks), then damaged; variables, JSON bodies
 * and websocket frames, well-formed and not.
 */
import fc from 'fast-check';
import {
  type GraphQLNamedType,
  type GraphQLType,
  getNamedType,
  isInputObjectType,
  isObjectType,
} from 'graphql';
import { schema } from '../../schema/index.js';

/** Every field, argument and input field name of the schema, and some names that are none of them. */
const NAMES: string[] = (() => {
  const names = new Set(['__typename', '__schema', '__type', 'name', 'fields', 'ofType', 'nope', 'a']);
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isObjectType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        names.add(field.name);
        if ('args' in field) for (const arg of field.args) names.add(arg.name);
        names.add((getNamedType(field.type as GraphQLType) as GraphQLNamedType).name);
      }
    }
  }
  return [...names];
})();

const name = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 1, arbitrary: fc.stringMatching(/^[_A-Za-z][_0-9A-Za-z]{0,10}$/) },
);

const TOPIC_LIKE = fc.constantFrom('orders.eu', 'invoices', 'nope', '', 'a/b', 'x'.repeat(130), '#', '*');

/** A GraphQL literal: scalars, enums, variables, lists and objects (shallow). */
const literal: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer().map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
    fc.string({ maxLength: 20 }).map((text) => JSON.stringify(text)),
    TOPIC_LIKE.map((text) => JSON.stringify(text)),
    fc.constantFrom(
      'true',
      'false',
      'null',
      'FANOUT',
      'TOPIC',
      'CONSUMER',
      'WEBHOOK',
      'REJECTED',
      '$v',
      '$input',
    ),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => `[${items.join(', ')}]`),
    fc
      .array(fc.tuple(name, tie('value')), { maxLength: 3 })
      .map((pairs) => `{ ${pairs.map(([key, value]) => `${key}: ${value}`).join(', ')} }`),
  ),
})).value;

const argumentsOf = fc
  .array(fc.tuple(name, literal), { maxLength: 3 })
  .map((pairs) =>
    pairs.length === 0 ? '' : `(${pairs.map(([key, value]) => `${key}: ${value}`).join(', ')})`,
  );

const directive = fc.option(
  fc.constantFrom('@skip(if: false)', '@include(if: true)', '@deprecated', '@nope'),
  {
    freq: 6,
  },
);

const selectionSet: fc.Memo<string> = fc.memo((depth) =>
  fc.array(field(depth), { minLength: 1, maxLength: 3 }).map((fields) => `{ ${fields.join(' ')} }`),
);

function field(depth: number): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.option(name, { freq: 5 }),
      name,
      argumentsOf,
      directive,
      depth > 1 ? fc.option(selectionSet(depth - 1), { freq: 3 }) : fc.constant(null),
    )
    .map(
      ([alias, fieldName, args, dir, set]) =>
        `${alias ? `${alias}: ` : ''}${fieldName}${args}${dir ? ` ${dir}` : ''}${set ? ` ${set}` : ''}`,
    );
}

/** A document that reads like GraphQL: an operation (maybe named, with variables) and a fragment now and then. */
const wellShaped = fc
  .tuple(
    fc.constantFrom(
      '',
      'query',
      'mutation',
      'subscription',
      'query Q',
      'mutation M($v: String, $input: PublishInput)',
    ),
    selectionSet(3),
    fc.option(
      selectionSet(2).map((set) => ` fragment F on Query ${set}`),
      { freq: 5 },
    ),
  )
  .map(([head, set, fragment]) => `${head} ${set}${fragment ?? ''}`);

/** A string damaged in a few places: characters dropped, doubled or replaced. */
function damaged(source: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(
      source,
      fc.array(fc.tuple(fc.nat(), fc.constantFrom('drop', 'double', 'brace', 'quote', 'char')), {
        maxLength: 3,
      }),
      fc.string({ maxLength: 3 }),
    )
    .map(([text, edits, junk]) => {
      let out = text;
      for (const [at, edit] of edits) {
        const i = out.length === 0 ? 0 : at % out.length;
        if (edit === 'drop') out = out.slice(0, i) + out.slice(i + 1);
        else if (edit === 'double') out = out.slice(0, i) + out.slice(i, i + 5) + out.slice(i);
        else if (edit === 'brace') out = `${out.slice(0, i)}{${out.slice(i)}`;
        else if (edit === 'quote') out = `${out.slice(0, i)}"${out.slice(i)}`;
        else out = out.slice(0, i) + junk + out.slice(i);
      }
      return out;
    });
}

/** GraphQL documents: well shaped, damaged, or any text at all. */
export const documents: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: wellShaped },
  { weight: 3, arbitrary: damaged(wellShaped) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '{', '}', '{ }', 'query', '#', '"""', '{ a(b: "\\u") }') },
);

/** Variables: usually an object, sometimes not. */
export const variables: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.dictionary(
      fc.constantFrom('v', 'input', 'topic', 'id', 'x'),
      fc.jsonValue({ maxDepth: 3 }),
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

/** Who a request claims to be; the admin key only ever sends documents that cannot run (see the test). */
export type Credential = 'none' | 'malformed' | 'unknown' | 'limited' | 'admin';
export const credentials: fc.Arbitrary<Credential> = fc.constantFrom(
  'none',
  'malformed',
  'unknown',
  'limited',
  'limited',
  'limited',
  'admin',
);

export type HttpCase =
  | { kind: 'graphql'; credential: Credential; query: unknown; variables: unknown; operationName: unknown }
  | { kind: 'raw'; credential: Credential; contentType: string; body: string }
  | { kind: 'get'; credential: Credential; search: string };

const oddQuery = fc.oneof(
  fc.integer(),
  fc.array(fc.string()),
  fc.object({ maxDepth: 1 }),
  fc.constant(null),
  fc.boolean(),
);

/** HTTP requests: GraphQL bodies with odd parts, raw bodies of any shape, GET requests. */
export const httpCases: fc.Arbitrary<HttpCase> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('graphql' as const),
      credential: credentials,
      query: fc.oneof({ weight: 9, arbitrary: documents }, { weight: 1, arbitrary: oddQuery }),
      variables,
      operationName: fc.option(fc.oneof(fc.constantFrom('Q', 'M', 'nope'), fc.integer()), { freq: 4 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      credential: credentials,
      contentType: fc.constantFrom(
        'application/json',
        'application/graphql',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json; charset=latin1',
      ),
      body: fc.oneof(
        fc.json({ maxDepth: 3 }),
        damaged(fc.json({ maxDepth: 2 })),
        fc.string({ maxLength: 100 }),
        fc.jsonValue().map((value) => JSON.stringify([value, value])),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('get' as const),
      credential: credentials,
      search: fc
        .tuple(documents, fc.string({ maxLength: 30 }))
        .map(
          ([query, extra]) => `?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(extra)}`,
        ),
    }),
  },
);

export interface SocketCase {
  /** Sent as the connection_init payload; `skip` sends no connection_init at all. */
  init:
    | { kind: 'payload'; credential: Credential; extra: unknown }
    | { kind: 'skip' }
    | { kind: 'garbage'; frame: string };
  frames: string[];
}

const FRAME_TYPES = ['subscribe', 'complete', 'ping', 'pong', 'connection_init', 'next', 'error', 'nope', ''];

/** One websocket frame: a protocol message (often a subscribe with a fuzzed document) or not. */
const frame: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        id: fc.oneof(fc.constantFrom('1', '2', '3'), fc.string({ maxLength: 5 })),
        query: documents,
        variables,
      })
      .map(({ id, query, variables: vars }) =>
        JSON.stringify({ id, type: 'subscribe', payload: { query, variables: vars } }),
      ),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        type: fc.constantFrom(...FRAME_TYPES),
        id: fc.option(fc.jsonValue({ maxDepth: 1 })),
        payload: fc.option(fc.jsonValue({ maxDepth: 2 })),
      })
      .map((message) => JSON.stringify(message)),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  {
    weight: 1,
    arbitrary: damaged(fc.constant('{"id":"1","type":"subscribe","payload":{"query":"{ health { ok } }"}}')),
  },
);

export const socketCases: fc.Arbitrary<SocketCase> = fc.record({
  init: fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('payload' as const),
        credential: credentials,
        extra: fc.option(fc.jsonValue({ maxDepth: 1 })),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'skip' as const }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('garbage' as const), frame: fc.string({ maxLength: 40 }) }),
    },
  ),
  frames: fc.array(frame, { minLength: 1, maxLength: 30 }),
});
