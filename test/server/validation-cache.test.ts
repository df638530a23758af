import { GraphQLError, type ValidationRule } from 'graphql';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useValidationCache } from '../../server/use-validation-cache.js';

/** A rule that refuses field `b` and counts the validations it took part in. */
function noB(): { rule: ValidationRule; runs: () => number } {
  let runs = 0;
  const rule: ValidationRule = (context) => {
    runs++;
    return {
      Field(node) {
        if (node.name.value === 'b') context.reportError(new GraphQLError('no b'));
      },
    };
  };
  return { rule, runs: () => runs };
}

function app(rulesOf: () => ValidationRule[]) {
  const addRules: Plugin = {
    onValidate({ addValidationRule }) {
      for (const rule of rulesOf()) addValidationRule(rule);
    },
  };
  return createYoga({
    schema: createSchema({
      typeDefs: 'type Query { a: Int, b: Int }',
      resolvers: { Query: { a: () => 1, b: () => 2 } },
    }),
    parserAndValidationCache: { validationCache: false },
    logging: false,
    plugins: [addRules, useValidationCache()],
  });
}

async function ask(yoga: ReturnType<typeof app>, query: string) {
  const response = await yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { data?: unknown; errors?: { message: string }[] };
}

describe('useValidationCache', () => {
  it('validates a document once per list of rules, refusals included', async () => {
    const counted = noB();
    const yoga = app(() => [counted.rule]);
    expect(await ask(yoga, '{ a }')).toEqual({ data: { a: 1 } });
    expect(await ask(yoga, '{ a }')).toEqual({ data: { a: 1 } });
    expect(counted.runs()).toBe(1);
    const refused = await ask(yoga, '{ b }');
    expect(refused.errors?.map((error) => error.message)).toEqual(['no b']);
    expect(await ask(yoga, '{ b }')).toEqual(refused);
    expect(counted.runs()).toBe(2);
  });

  it('does not answer a document validated under other rules from the cache', async () => {
    const counted = noB();
    let withRule = false;
    const yoga = app(() => (withRule ? [counted.rule] : []));
    expect(await ask(yoga, '{ b }')).toEqual({ data: { b: 2 } });
    withRule = true;
    expect((await ask(yoga, '{ b }')).errors?.map((error) => error.message)).toEqual(['no b']);
    withRule = false;
    expect(await ask(yoga, '{ b }')).toEqual({ data: { b: 2 } });
  });

  it('stops caching, rather than answering wrongly, when every request brings new rules', async () => {
    const yoga = app(() => [noB().rule]);
    for (let i = 0; i < 12; i++) {
      expect((await ask(yoga, '{ b }')).errors?.map((error) => error.message)).toEqual(['no b']);
    }
  });
});
