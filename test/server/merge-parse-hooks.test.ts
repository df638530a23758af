import { parse } from 'graphql';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useMergedParseHooks } from '../../server/merge-parse-hooks.js';

const schema = createSchema({
  typeDefs: 'type Query { a: Int, b: Int }',
  resolvers: { Query: { a: () => 1, b: () => 2 } },
});

/**
 * Plugins that log the parse function they see, swap it, answer a document instead of parsing,
 * throw, and log and replace the result in after-hooks; a plugin between them without onParse.
 */
function plugins(log: string[]): Plugin[] {
  const counting: typeof parse = (...args) => {
    log.push('parse');
    return parse(...args);
  };
  return [
    {
      onParse({ setParseFn, parseFn }) {
        log.push(`1 sees counting: ${parseFn === counting}`);
        setParseFn(counting);
        return ({ result }) =>
          void log.push(`after 1: ${result instanceof Error ? result.message : 'document'}`);
      },
    },
    { onValidate: () => undefined },
    {
      onParse({ params, parseFn, setParsedDocument }) {
        log.push(`2 sees counting: ${parseFn === counting}`);
        const source = params.source.toString();
        if (source.includes('thrown')) throw new Error('refused by hook 2');
        if (source.includes('swap')) setParsedDocument(parse('{ b }'));
        return ({ result, replaceParseResult }) => {
          log.push(`after 2: ${result instanceof Error ? result.message : 'document'}`);
          if (source.includes('replace')) replaceParseResult(parse('{ a }'));
        };
      },
    },
    {
      onParse: () => (done) =>
        void log.push(`after 3: ${done.result instanceof Error ? 'error' : 'document'}`),
    },
  ];
}

async function run(merge: boolean, query: string) {
  const log: string[] = [];
  const yoga = createYoga({
    schema,
    logging: false,
    plugins: [...plugins(log), ...(merge ? [useMergedParseHooks()] : [])],
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
  const hooks = (yoga as unknown as { plugins: Plugin[] }).plugins.filter((plugin) => plugin?.onParse).length;
  return { log, bodies, hooks };
}

describe('useMergedParseHooks', () => {
  it.each(['{ a }', '{ a b } # swap', '{ b } # replace', '{ b } # thrown', '{ a'])(
    'answers %s as envelop does with the hooks apart, with one onParse hook',
    async (query) => {
      const merged = await run(true, query);
      const apart = await run(false, query);
      expect(merged.hooks).toBe(1);
      expect(apart.hooks).toBeGreaterThan(3);
      expect({ ...merged, hooks: 0 }).toEqual({ ...apart, hooks: 0 });
    },
  );
});
