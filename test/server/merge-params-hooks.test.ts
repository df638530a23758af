import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useMergedParamsHooks } from '../../server/merge-params-hooks.js';

const schema = createSchema({
  typeDefs: 'type Query { a: Int, b: Int }',
  resolvers: { Query: { a: () => 1, b: () => 2 } },
});

/**
 * onParams hooks that log what they see, await, rewrite the params, wrap the params handler, answer a
 * result, and throw; a plugin between them without onParams.
 */
function plugins(log: string[]): Plugin[] {
  return [
    {
      async onParams({ params }) {
        log.push(`1 sees ${params.query}`);
        await Promise.resolve();
      },
    },
    { onParse: () => undefined },
    {
      onParams({ params, setParams }) {
        log.push(`2 sees ${params.query}`);
        if (params.query?.includes('rewrite')) setParams({ ...params, query: '{ b }' });
        if (params.query?.includes('thrown')) throw new Error('refused by hook 2');
      },
    },
    {
      onParams({ params, paramsHandler, setParamsHandler, setResult }) {
        log.push(`3 sees ${params.query}`);
        if (params.query?.includes('answer')) setResult({ data: { a: -1 } });
        setParamsHandler((payload) => {
          log.push(`handler for ${payload.params.query}`);
          return paramsHandler(payload);
        });
      },
    },
    {
      onParams: ({ params, paramsHandler }) =>
        void log.push(`4 sees ${params.query} ${typeof paramsHandler}`),
    },
  ];
}

async function run(merge: boolean, query: string) {
  const log: string[] = [];
  const yoga = createYoga({
    schema,
    logging: false,
    plugins: [...plugins(log), ...(merge ? [useMergedParamsHooks()] : [])],
  });
  const response = await yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  const hooks = (yoga as unknown as { plugins: Plugin[] }).plugins.filter(
    (plugin) => plugin?.onParams,
  ).length;
  return { log, status: response.status, body: await response.text(), hooks };
}

describe('useMergedParamsHooks', () => {
  it.each(['{ a }', '{ a } # rewrite', '{ a } # answer', '{ a } # thrown'])(
    'answers %s as yoga does with the hooks apart, with one onParams hook',
    async (query) => {
      const merged = await run(true, query);
      const apart = await run(false, query);
      expect(merged.hooks).toBe(1);
      expect(apart.hooks).toBeGreaterThan(3);
      expect({ ...merged, hooks: 0 }).toEqual({ ...apart, hooks: 0 });
    },
  );
});
