import type { Plugin } from 'graphql-yoga';
import { copiable } from './merge-execute-hooks.js';

type OnParse = NonNullable<Plugin['onParse']>;
type ParsePayload = Parameters<OnParse>[0];
type AfterParse = Extract<ReturnType<OnParse>, (...args: never[]) => unknown>;

/**
 * Several onParse hooks as one, with envelop's semantics: in order, each seeing the parse function
 * the ones before it set, a document one of them sets answering instead of parsing (the later hooks
 * still run), and the after-hooks of those that returned one run in order, each seeing the result
 * the one before it replaced. A hook that throws ends the parse with its error, as in envelop.
 */
function mergedOnParse(hooks: readonly OnParse[]): OnParse {
  return (outer: ParsePayload) => {
    // envelop's payload is made for this call alone: it serves every hook, its parseFn kept current.
    const payload = outer;
    const setParseFn = outer.setParseFn;
    payload.setParseFn = (fn) => {
      payload.parseFn = fn;
      setParseFn(fn);
    };
    const afters: AfterParse[] = [];
    for (const hook of hooks) {
      const after = hook(payload);
      if (after) afters.push(after);
    }
    if (afters.length === 0) return undefined;
    if (afters.length === 1) return afters[0];
    return (done) => {
      let current = done.result;
      for (const after of afters) {
        after({
          ...done,
          result: current,
          replaceParseResult(newResult) {
            current = newResult;
            done.replaceParseResult(newResult);
          },
        });
      }
    };
  };
}

/**
 * A plugin that merges the onParse hooks of every plugin of the yoga app into one, at the place of
 * the first: yoga's engine (graphql-js's parse), graphql-armor's token limit (its parser) and yoga's
 * document cache. envelop makes a payload, a params object and three closures per hook and request
 * (docs/PERFORMANCE.md); merged, one payload serves them all. As with useMergedExecuteHooks, a hook a
 * later plugin adds in its own onPluginInit stays its own and runs after.
 */
export function useMergedParseHooks(): Plugin {
  return {
    onPluginInit({ plugins }) {
      if (!copiable(plugins, 'onParse')) return;
      const hooks: OnParse[] = [];
      for (const plugin of plugins as Plugin[]) if (plugin.onParse) hooks.push(plugin.onParse);
      if (hooks.length < 2) return;
      const onParse = mergedOnParse(hooks);
      let merged = false;
      for (let i = 0; i < plugins.length; i++) {
        const plugin = plugins[i] as Plugin;
        if (!plugin.onParse) continue;
        const { onParse: _moved, ...rest } = plugin;
        plugins[i] = merged ? rest : { ...rest, onParse };
        merged = true;
      }
    },
  };
}
