import type { DocumentNode, GraphQLSchema, ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** Validation results of one list of rules, by schema and parsed document. */
interface Entry {
  rules: readonly ValidationRule[];
  bySchema: WeakMap<GraphQLSchema, WeakMap<DocumentNode, readonly Error[]>>;
}

/**
 * Distinct rule lists remembered. Every request of this gateway validates with one list; a plugin
 * that made its rules anew per request would fill these and then go uncached, never answer wrongly.
 */
const MAX_RULE_LISTS = 8;

function sameRules(a: readonly ValidationRule[], b: readonly ValidationRule[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * yoga's validation cache, keyed by the rule objects rather than their names. yoga's joins the names
 * of every rule (~30) into a string on every request to find its cache, ~3 % of the gateway's CPU in
 * scenario 1's profile (docs/PERFORMANCE.md); comparing the rules themselves allocates nothing. yoga's
 * own is turned off (`parserAndValidationCache: { validationCache: false }`, its parse cache stays)
 * and this one takes its place in the plugin order, after every plugin that adds a rule, so that the
 * list it compares is the one validation runs with. As yoga's, it keeps a result (errors included)
 * as the later hooks left it, and answers it for the same rules, schema and document.
 */
export function useValidationCache(): Plugin {
  const entries: Entry[] = [];
  const entryFor = (rules: readonly ValidationRule[]): Entry | undefined => {
    for (const entry of entries) if (sameRules(entry.rules, rules)) return entry;
    if (entries.length >= MAX_RULE_LISTS) return undefined;
    const entry: Entry = { rules: [...rules], bySchema: new WeakMap() };
    entries.push(entry);
    return entry;
  };
  return {
    onValidate({ params: { schema, documentAST, rules }, setResult }) {
      if (schema == null) return;
      const entry = entryFor(rules ?? []);
      if (!entry) return;
      let byDocument = entry.bySchema.get(schema);
      if (!byDocument) {
        byDocument = new WeakMap();
        entry.bySchema.set(schema, byDocument);
      }
      const cached = byDocument.get(documentAST);
      if (cached) {
        setResult(cached);
        return;
      }
      const results = byDocument;
      return ({ result }) => {
        if (result != null) results.set(documentAST, result);
      };
    },
  };
}
