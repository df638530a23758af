import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import {
  astFromValue,
  buildSchema,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLNamedType,
  type GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isNonNullType,
  isObjectType,
  isScalarType,
  parse,
  print,
  printSchema,
  validate,
  visit,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../schema/index.js';
import { GRAPHIQL_EXAMPLES } from '../../server/yoga.js';

// CI clones the repository with shared/ beside it; the committed copy stands in when it is not there.
const SHARED_CONTRACT = new URL('../../../shared/API.graphql', import.meta.url);
const COMMITTED_CONTRACT = new URL('../../docs/API.contract.graphql', import.meta.url);
const PRINTED_SCHEMA = new URL('../../schema.graphql', import.meta.url);

async function loadContract(): Promise<string> {
  return readFile(existsSync(SHARED_CONTRACT) ? SHARED_CONTRACT : COMMITTED_CONTRACT, 'utf8');
}

/** SDL without its descriptions, so that each definition reads on one line, as the contract's do. */
function withoutDescriptions(sdl: string): string {
  return print(
    visit(parse(sdl), {
      enter: (node) =>
        'description' in node && node.description ? { ...node, description: undefined } : undefined,
    }),
  );
}

/** How an argument or input field reads in SDL: `first: Int = 50`. */
function signature(value: GraphQLArgument | GraphQLInputField): string {
  const defaultAst = value.defaultValue === undefined ? null : astFromValue(value.defaultValue, value.type);
  return `${value.type}${defaultAst ? ` = ${print(defaultAst)}` : ''}`;
}

function compareInputs(
  where: string,
  expected: readonly (GraphQLArgument | GraphQLInputField)[],
  actual: readonly (GraphQLArgument | GraphQLInputField)[],
): string[] {
  const problems: string[] = [];
  const actualByName = new Map(actual.map((value) => [value.name, value]));
  for (const value of expected) {
    const found = actualByName.get(value.name);
    if (!found) problems.push(`${where}(${value.name}:) is missing`);
    else if (signature(found) !== signature(value)) {
      problems.push(`${where}(${value.name}:) is ${signature(found)}, contract says ${signature(value)}`);
    }
  }
  // Additions are allowed, but a required one would break every client written against the contract.
  const expectedNames = new Set(expected.map((value) => value.name));
  for (const value of actual) {
    if (!expectedNames.has(value.name) && isNonNullType(value.type) && value.defaultValue === undefined) {
      problems.push(`${where}(${value.name}:) is an added required input`);
    }
  }
  return problems;
}

function compareFields(
  typeName: string,
  expected: Record<string, GraphQLField<unknown, unknown>>,
  actual: Record<string, GraphQLField<unknown, unknown>>,
): string[] {
  const problems: string[] = [];
  for (const field of Object.values(expected)) {
    const found = actual[field.name];
    const at = `${typeName}.${field.name}`;
    if (!found) {
      problems.push(`${at} is missing`);
      continue;
    }
    if (String(found.type) !== String(field.type)) {
      problems.push(`${at} is ${found.type}, contract says ${field.type}`);
    }
    problems.push(...compareInputs(at, field.args, found.args));
  }
  return problems;
}

function compareType(expected: GraphQLNamedType, actual: GraphQLNamedType | undefined): string[] {
  if (!actual) return [`type ${expected.name} is missing`];
  const kind = (type: GraphQLNamedType) => type.constructor.name;
  if (kind(actual) !== kind(expected)) {
    return [`${expected.name} is a ${kind(actual)}, contract says ${kind(expected)}`];
  }
  if (isObjectType(expected) && isObjectType(actual)) {
    return compareFields(expected.name, expected.getFields(), actual.getFields());
  }
  if (isInputObjectType(expected) && isInputObjectType(actual)) {
    return compareInputs(
      expected.name,
      Object.values(expected.getFields()),
      Object.values(actual.getFields()),
    );
  }
  if (isEnumType(expected) && isEnumType(actual)) {
    const values = new Set(actual.getValues().map((value) => value.name));
    return expected
      .getValues()
      .filter((value) => !values.has(value.name))
      .map((value) => `${expected.name}.${value.name} is missing`);
  }
  // A scalar only has to exist. The contract has no interfaces or unions; compare them once it does.
  if (isScalarType(expected)) return [];
  return [`${expected.name}: comparing a ${kind(expected)} is not written yet`];
}

/** Every difference that would break a client of the contract, as readable lines. */
function breakingChanges(contract: GraphQLSchema, real: GraphQLSchema): string[] {
  return Object.values(contract.getTypeMap())
    .filter((type) => !type.name.startsWith('__'))
    .flatMap((type) => compareType(type, real.getType(type.name)));
}

describe('the printed schema against API.graphql', () => {
  it('should keep every type, field, argument, default, enum value and input field of the contract', async () => {
    const contract = buildSchema(await loadContract());
    expect(breakingChanges(contract, schema)).toEqual([]);
  });

  it('should report a renamed field, a changed type, a dropped default and a missing enum value', async () => {
    // The comparison itself must be able to fail, or the test above proves nothing.
    const contract = buildSchema(await loadContract());
    const broken = buildSchema(
      withoutDescriptions(printSchema(schema))
        .replace('  topics: [Topic!]!', '  allTopics: [Topic!]!')
        .replace('  maxMessageBytes: Int!', '  maxMessageBytes: Int')
        .replace('max: Int = 1,', 'max: Int,')
        .replace('  CIRCUIT_OPEN\n', ''),
    );
    expect(breakingChanges(contract, broken)).toEqual([
      'FailureReason.CIRCUIT_OPEN is missing',
      'Topic.maxMessageBytes is Int, contract says Int!',
      'Query.topics is missing',
      'Mutation.receive(max:) is Int, contract says Int = 1',
    ]);
  });

  it('should have schema.graphql committed as `npm run print-schema` writes it', async () => {
    const committed = await readFile(PRINTED_SCHEMA, 'utf8');
    expect(committed, 'schema.graphql is stale: run npm run print-schema').toBe(`${printSchema(schema)}\n`);
  });

  it.runIf(existsSync(SHARED_CONTRACT))(
    'should keep docs/API.contract.graphql a copy of shared/API.graphql',
    async () => {
      const [shared, committed] = await Promise.all([
        readFile(SHARED_CONTRACT, 'utf8'),
        readFile(COMMITTED_CONTRACT, 'utf8'),
      ]);
      expect(committed, 'copy shared/API.graphql to docs/API.contract.graphql').toBe(shared);
    },
  );

  it('should preload GraphiQL with operations that are valid against the schema', () => {
    expect(validate(schema, parse(GRAPHIQL_EXAMPLES)).map((error) => error.message)).toEqual([]);
  });
});

describe('the second wave of the contract', () => {
  it('should leave no field answering "not implemented yet": every name of API.graphql is built', async () => {
    // Until this session each unbuilt field answered UNAVAILABLE through resolvers/not-built.ts and was
    // listed here; the list emptied as the issues landed, and the helper went with it.
    const sources = ['resolvers', 'schema', 'queues', 'server'];
    const found: string[] = [];
    for (const dir of sources) {
      for (const entry of await readdir(new URL(`../../${dir}/`, import.meta.url), { recursive: true })) {
        if (!entry.endsWith('.ts')) continue;
        const text = await readFile(new URL(`../../${dir}/${entry}`, import.meta.url), 'utf8');
        if (/not implemented yet|notBuilt\(/.test(text)) found.push(`${dir}/${entry}`);
      }
    }
    expect(found).toEqual([]);
  });
});
