import type { Plugin } from 'graphql-yoga';
import { copiable, inTurn } from './merge-execute-hooks.js';

type OnParams = NonNullable<Plugin['onParams']>;
type ParamsPayload = Parameters<OnParams>[0];

/**
 * Several onParams hooks as one, with yoga's semantics: in order, each seeing the params and params
 * handler the ones before it set, awaiting only the hooks that return a promise; a throw or a rejection
 * ends the run with its error. yoga's payload for the call serves every hook, kept current.
 */
function mergedOnParams(hooks: readonly OnParams[]): OnParams {
  return (payload: ParamsPayload) => {
    const { setParams, setParamsHandler } = payload;
    payload.setParams = (params) => {
      payload.params = params;
      setParams(params);
    };
    payload.setParamsHandler = (handler) => {
      payload.paramsHandler = handler;
      setParamsHandler(handler);
    };
    return inTurn(
      hooks.length,
      (index) => hooks[index]?.(payload),
      () => true,
    );
  };
}

/**
 * A plugin that merges the onParams hooks of every plugin of the yoga app into one, at the place of
 * the first: ours (server/use-auth.ts: authentication and rate limits) and yoga's parameter check.
 * yoga runs each as a promise-helpers chain step with a payload of its own on every request
 * (docs/PERFORMANCE.md). yoga collects these hooks from the list envelop initialised, as envelop does
 * its own; as with useMergedExecuteHooks, a hook a later plugin adds in its own onPluginInit stays its
 * own and runs after.
 */
export function useMergedParamsHooks(): Plugin {
  return {
    onPluginInit({ plugins }) {
      if (!copiable(plugins, 'onParams')) return;
      const hooks: OnParams[] = [];
      for (const plugin of plugins as Plugin[]) if (plugin.onParams) hooks.push(plugin.onParams);
      if (hooks.length < 2) return;
      const onParams = mergedOnParams(hooks);
      let merged = false;
      for (let i = 0; i < plugins.length; i++) {
        const plugin = plugins[i] as Plugin;
        if (!plugin.onParams) continue;
        const { onParams: _moved, ...rest } = plugin;
        plugins[i] = merged ? rest : { ...rest, onParams };
        merged = true;
      }
    },
  };
}
