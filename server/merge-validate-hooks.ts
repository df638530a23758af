import type { GraphQLError, ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { copiable } from './merge-execute-hooks.js';

type OnValidate = NonNullable<Plugin['onValidate']>;
type ValidatePayload = Parameters<OnValidate>[0];
type AfterValidate = Extract<ReturnType<OnValidate>, (...args: never[]) => unknown>;
type ValidateFn = ValidatePayload['validateFn'];

function sameRules(a: readonly ValidationRule[], b: readonly ValidationRule[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Several onValidate hooks as one, with envelop's semantics: in order, each seeing the validate
 * function and the rules the ones before it set and added, a result one of them sets answering
 * instead of validating, and the after-hooks of those that returned one run in order, each seeing
 * the result the one before it set. The rules are gathered in one array kept from request to request
 * (yoga's engine adds graphql-js's ~27 rules one by one on every request, which envelop copies into a
 * new list each time); a request that ends with the same rules as the one before validates with the
 * list that one kept, so that list is the same object from request to request.
 */
function mergedOnValidate(hooks: readonly OnValidate[]): OnValidate {
  let known: ValidationRule[] = [];
  const scratch: ValidationRule[] = [];
  // A hook validating another document from inside its own hook gets a list of its own.
  let busy = false;
  return (outer: ValidatePayload) => {
    const own = !busy;
    busy = true;
    const rules = own ? scratch : [];
    rules.length = 0;
    if (outer.params.rules) rules.push(...outer.params.rules);
    let listed = outer.params.rules !== undefined;
    let validateFn: ValidateFn = outer.validateFn;
    let result: readonly GraphQLError[] | null = null;
    const afters: AfterValidate[] = [];
    const params = { ...outer.params, rules: listed ? rules : undefined };
    const payload: ValidatePayload = {
      ...outer,
      params,
      validateFn,
      addValidationRule(rule) {
        rules.push(rule);
        if (!listed) {
          listed = true;
          params.rules = rules;
        }
      },
      setValidationFn(fn) {
        validateFn = fn;
      },
      setResult(newResult) {
        result = newResult;
      },
    };
    let list: ValidationRule[] | undefined;
    try {
      for (const hook of hooks) {
        payload.validateFn = validateFn;
        const after = hook(payload);
        if (after) afters.push(after);
      }
      if (listed && own) {
        if (!sameRules(known, rules)) known = [...rules];
        list = known;
      } else if (listed) list = rules;
    } finally {
      if (own) {
        rules.length = 0;
        busy = false;
      }
    }
    if (result !== null) outer.setResult(result);
    else if (list !== undefined || validateFn !== outer.validateFn) {
      const fn = validateFn;
      const ruleList = list;
      // A rule a plugin outside the merge adds reaches envelop's list: validate with both.
      outer.setValidationFn((schema, document, added, typeInfo, options) =>
        fn(
          schema,
          document,
          ruleList && added ? [...ruleList, ...added] : (ruleList ?? added),
          typeInfo,
          options,
        ),
      );
    }
    if (afters.length === 0) return undefined;
    if (afters.length === 1) return afters[0];
    return (done) => {
      let current = done.result;
      for (const after of afters) {
        after({
          ...done,
          result: current,
          setResult(newResult) {
            current = newResult;
            done.setResult(newResult);
          },
        });
      }
    };
  };
}

/**
 * A plugin that merges the onValidate hooks of every plugin of the yoga app into one, at the place of
 * the first: yoga's engine (graphql-js's validate and rules), the request limits' rules, yoga's cache
 * hook, ours. envelop makes a payload, a params object and four closures per hook and request, and
 * yoga's engine adds its ~27 rules to a new list each time (docs/PERFORMANCE.md); merged, one payload
 * serves them all and the rules go into a list kept from request to request. As with
 * useMergedExecuteHooks, a hook a later plugin adds in its own onPluginInit stays its own and runs after.
 */
export function useMergedValidateHooks(): Plugin {
  return {
    onPluginInit({ plugins }) {
      if (!copiable(plugins, 'onValidate')) return;
      const hooks: OnValidate[] = [];
      for (const plugin of plugins as Plugin[]) if (plugin.onValidate) hooks.push(plugin.onValidate);
      if (hooks.length < 2) return;
      const onValidate = mergedOnValidate(hooks);
      let merged = false;
      for (let i = 0; i < plugins.length; i++) {
        const plugin = plugins[i] as Plugin;
        if (!plugin.onValidate) continue;
        const { onValidate: _moved, ...rest } = plugin;
        plugins[i] = merged ? rest : { ...rest, onValidate };
        merged = true;
      }
    },
  };
}
