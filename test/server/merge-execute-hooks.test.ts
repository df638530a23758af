import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { mergeExecuteHooks } from '../../server/merge-execute-hooks.js';

const schema = createSchema({ typeDefs: 'type Query { a: Int }', resolvers: { Query: { a: () => 1 } } });

/**
 * Four plugins whose onExecute hooks log, one of them async, one stopping execution when asked, and
 * onExecuteDone hooks that log and rewrite the result; a plugin between them without onExecute.
 */
function plugins(log: string[], stopAt: number | null): Plugin[] {
  const hooked = (n: number, async: boolean): Plugin => ({
    onExecute({ setResultAndStopExecution }) {
      log.push(`execute ${n}`);
      if (stopAt === n) setResultAndStopExecution({ data: { a: -n } });
      const hooks = {
        onExecuteDone({ result, setResult }: { result: unknown; setResult: (result: never) => void }) {
          log.push(`done ${n}: ${JSON.stringify(result)}`);
          setResult({ data: { a: n * 10 } } as never);
        },
      };
      return async ? Promise.resolve(hooks) : hooks;
    },
  });
  return [
    hooked(1, false),
    { onParse: () => undefined },
    hooked(2, true),
    hooked(3, false),
    hooked(4, false),
  ];
}

async function run(merge: boolean, stopAt: number | null) {
  const log: string[] = [];
  const list = plugins(log, stopAt);
  const yoga = createYoga({ schema, logging: false, plugins: merge ? mergeExecuteHooks(list) : list });
  const response = await yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ a }' }),
  });
  return { log, body: await response.json() };
}

describe('mergeExecuteHooks', () => {
  it('runs the hooks in order, async ones included, and their onExecuteDone hooks in turn, as envelop does', async () => {
    const merged = await run(true, null);
    expect(merged).toEqual(await run(false, null));
    expect(merged.log).toEqual([
      'execute 1',
      'execute 2',
      'execute 3',
      'execute 4',
      'done 1: {"data":{"a":1}}',
      'done 2: {"data":{"a":10}}',
      'done 3: {"data":{"a":20}}',
      'done 4: {"data":{"a":30}}',
    ]);
  });

  it('ends the run at a hook that stops execution, and runs the onExecuteDone hooks of those that ran', async () => {
    const merged = await run(true, 3);
    expect(merged).toEqual(await run(false, 3));
    expect(merged.log).toEqual([
      'execute 1',
      'execute 2',
      'execute 3',
      'done 1: {"data":{"a":-3}}',
      'done 2: {"data":{"a":10}}',
      'done 3: {"data":{"a":20}}',
    ]);
  });

  it('leaves a list with one onExecute hook as it is', () => {
    const one: Plugin = { onExecute: () => undefined };
    expect(mergeExecuteHooks([one, {}])).toEqual([one, {}]);
  });
});
