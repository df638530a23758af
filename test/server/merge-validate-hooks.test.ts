import { GraphQLError, specifiedRules, type ValidationRule, validate } from 'graphql';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useMergedValidateHooks } from '../../server/merge-validate-hooks.js';

const schema = createSchema({
  typeDefs: 'type Query { a: Int, b: Int, c: Int }',
  resolvers: { Query: { a: () => 1, b: () => 2, c: () => 3 } },
});

/** A rule that refuses field `name`. */
const refuse =
  (name: string): ValidationRule =>
  (context) => ({
    Field(node) {
      if (node.name.value === name) context.reportError(new GraphQLError(`no ${name}`));
    },
  });
const noB = refuse('b');
const noC = refuse('c');

/**
 * Plugins that add rules, log what they see (the rules so far, the validate function set before
 * them), swap the validate function, answer a result instead of validating, and rewrite the result
 * in after-hooks; a plugin between them without onValidate.
 */
function plugins(log: string[]): Plugin[] {
  const counting: typeof validate = (...args) => {
    log.push(`validate with ${args[2]?.length ?? 'default'} rules`);
    return validate(...args);
  };
  return [
    {
      onValidate({ addValidationRule, params }) {
        log.push(`1 sees ${params.rules?.length ?? 'none'}`);
        addValidationRule(noB);
        return ({ result, valid }) => void log.push(`after 1: ${valid} ${result.length}`);
      },
    },
    { onParse: () => undefined },
    {
      onValidate({ addValidationRule, setValidationFn, params, validateFn }) {
        log.push(`2 sees ${params.rules?.length ?? 'none'}, ${validateFn === counting}`);
        addValidationRule(noC);
        setValidationFn(counting);
      },
    },
    {
      onValidate({ params, setResult, validateFn }) {
        log.push(`3 sees ${params.rules?.length ?? 'none'}, ${validateFn === counting}`);
        if (params.documentAST.loc?.source.body.includes('a b c')) setResult([new GraphQLError('answered')]);
        return ({ result, setResult: set }) => {
          log.push(`after 3: ${result.map((error) => error.message).join()}`);
          if (result.length > 0) set([...result, new GraphQLError('after 3 added')]);
        };
      },
    },
    {
      onValidate: () => (done) => void log.push(`after 4: ${done.result.length}`),
    },
  ];
}

async function run(merge: boolean, query: string) {
  const log: string[] = [];
  const list = plugins(log);
  const yoga = createYoga({
    schema,
    logging: false,
    parserAndValidationCache: false,
    plugins: [...list, ...(merge ? [useMergedValidateHooks()] : [])],
  });
  const ask = async () => {
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    return response.text();
  };
  const bodies = [await ask(), await ask()];
  const hooks = (yoga as unknown as { plugins: Plugin[] }).plugins.filter(
    (plugin) => plugin?.onValidate,
  ).length;
  return { log, bodies, hooks };
}

describe('useMergedValidateHooks', () => {
  it.each(['{ a }', '{ a b }', '{ c }', '{ a b c }'])(
    'answers %s as envelop does with the hooks apart, with one onValidate hook',
    async (query) => {
      const merged = await run(true, query);
      const apart = await run(false, query);
      expect(merged.hooks).toBe(1);
      expect(apart.hooks).toBeGreaterThan(3);
      expect({ ...merged, hooks: 0 }).toEqual({ ...apart, hooks: 0 });
    },
  );

  it('validates with the rules every hook added, yoga engine rules included', async () => {
    const { log, bodies } = await run(true, '{ a b c }');
    expect(log).toContain(`2 sees ${specifiedRules.length + 1}, false`);
    expect(bodies[0]).toContain('answered');
    const refused = await run(true, '{ b c }');
    expect(refused.log).toContain(`validate with ${specifiedRules.length + 2} rules`);
    expect(refused.bodies[1]).toContain('no b');
    expect(refused.bodies[1]).toContain('no c');
    expect(refused.bodies[1]).toContain('after 3 added');
  });
});
