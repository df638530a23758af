import {
  type DocumentNode,
  type ExecutionResult,
  type FieldNode,
  GraphQLIncludeDirective,
  type GraphQLObjectType,
  GraphQLSkipDirective,
  getArgumentValues,
  getDirectiveValues,
  getOperationAST,
  Kind,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { AuditLog, AuditRecord, Caller } from '../queues/security/index.js';

/**
 * Mutations that move messages rather than change what the gateway is: they come by the thousand a
 * second and are counted elsewhere, so they are not audited. Every other mutation is, new ones
 * included, so that forgetting to list an admin mutation errs on the side of auditing it.
 */
export const UNAUDITED_MUTATIONS: ReadonlySet<string> = new Set([
  'publish',
  'publishBatch',
  'receive',
  'ack',
  'nack',
]);

/** Options for {@link useAuditLog}. */
export interface AuditPluginOptions {
  /** Where entries go (the engine's `auditLog`). */
  auditLog: Pick<AuditLog, 'record'>;
  /** Where a failed audit write is reported; the operation's answer is not changed by it. @default ignored */
  onError?: (error: Error) => void;
}

interface RootField {
  node: FieldNode;
  responseKey: string;
}

type Variables = Record<string, unknown>;

/**
 * The root fields an operation will run: fragments followed, @skip/@include honoured. Without
 * `variables`, every field it could run, whatever its directives say.
 */
function rootFields(
  document: DocumentNode,
  selectionSet: SelectionSetNode,
  variables: Variables | null,
): RootField[] {
  const fragments = new Map(
    document.definitions.flatMap((definition) =>
      definition.kind === Kind.FRAGMENT_DEFINITION ? [[definition.name.value, definition] as const] : [],
    ),
  );
  const skipped = (selection: SelectionNode) =>
    variables !== null &&
    (getDirectiveValues(GraphQLSkipDirective, selection, variables)?.if === true ||
      getDirectiveValues(GraphQLIncludeDirective, selection, variables)?.if === false);
  const fields: RootField[] = [];
  const visited = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (skipped(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        fields.push({ node: selection, responseKey: selection.alias?.value ?? selection.name.value });
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet);
      } else if (!visited.has(selection.name.value)) {
        visited.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet);
      }
    }
  };
  walk(selectionSet);
  return fields;
}

function outcomeOf(result: ExecutionResult, responseKey: string): Pick<AuditRecord, 'outcome' | 'error'> {
  const error = result.errors?.find((candidate) => candidate.path?.[0] === responseKey);
  if (!error) return { outcome: 'OK', error: null };
  const code = error.extensions?.code;
  return { outcome: typeof code === 'string' ? code : 'INTERNAL', error: error.message };
}

function argumentsOf(mutation: GraphQLObjectType, node: FieldNode, variables: Variables): unknown {
  const field = mutation.getFields()[node.name.value];
  if (!field) return {};
  try {
    return getArgumentValues(field, node, variables);
  } catch {
    // Arguments that do not coerce never reach a resolver; the error result already says why.
    return {};
  }
}

/**
 * Writes every admin mutation to the audit log once it has run: who (key id and name), what (root
 * field and its arguments, redacted by the engine), when, and how it went (OK or the error code).
 * Refusals during execution (FORBIDDEN, NOT_FOUND…) are audited too; requests refused before
 * execution (UNAUTHENTICATED, limits) are not, because nothing was attempted.
 */
export function useAuditLog(options: AuditPluginOptions): Plugin {
  /**
   * Per parsed document (yoga's parse cache hands out the same object for the same text) and
   * operation: whether it is a mutation any field of which might be audited. Queries, publishes and
   * acks, thousands a second, then cost one lookup.
   */
  const mayAudit = new WeakMap<DocumentNode, Map<string | null, boolean>>();
  const couldAudit = (document: DocumentNode, operationName: string | null) => {
    let byOperation = mayAudit.get(document);
    if (!byOperation) {
      byOperation = new Map();
      mayAudit.set(document, byOperation);
    }
    let answer = byOperation.get(operationName);
    if (answer === undefined) {
      const operation = getOperationAST(document, operationName);
      answer =
        operation?.operation === 'mutation' &&
        rootFields(document, operation.selectionSet, null).some(
          (field) => !UNAUDITED_MUTATIONS.has(field.node.name.value),
        );
      byOperation.set(operationName, answer);
    }
    return answer;
  };
  return {
    onExecute({ args }) {
      if (!couldAudit(args.document, args.operationName ?? null)) return;
      const operation = getOperationAST(args.document, args.operationName);
      const mutation = args.schema.getMutationType();
      if (operation?.operation !== 'mutation' || !mutation) return;
      const variables = (args.variableValues ?? {}) as Variables;
      const audited = rootFields(args.document, operation.selectionSet, variables).filter(
        (field) => !UNAUDITED_MUTATIONS.has(field.node.name.value),
      );
      if (audited.length === 0) return;
      return {
        async onExecuteDone({ result }) {
          if (isAsyncIterable(result)) return;
          // Read now, not when execution began: over websockets useAuth sets it in its own onExecute.
          const caller = (args.contextValue as { auth?: Caller }).auth;
          const records = audited.map(
            ({ node, responseKey }): AuditRecord => ({
              keyId: caller?.key?.id ?? null,
              keyName: caller?.key?.name ?? null,
              operation: node.name.value,
              arguments: argumentsOf(mutation, node, variables),
              ...outcomeOf(result, responseKey),
            }),
          );
          const written = await Promise.allSettled(records.map((record) => options.auditLog.record(record)));
          for (const outcome of written) {
            if (outcome.status === 'rejected') options.onError?.(outcome.reason as Error);
          }
        },
      };
    },
  };
}
