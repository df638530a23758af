import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  GraphQLError,
  getNamedType,
  isLeafType,
  Kind,
  type OperationDefinitionNode,
  type Source,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';

/** Which executor runs queries and mutations; `graphql-js` is the reference the parity test compares to. */
export type Executor = 'compiled' | 'graphql-js';

/** A document's compiled operations, by operation name ('' for the only one), or why there is none. */
interface Compiled {
  /** Executions seen before compiling: a document runs once through graphql-js before it is compiled. */
  runs: number;
  queries: Map<string, CompiledQuery | null>;
}

/**
 * Executions of a document on graphql-js before it is compiled: compiling (a `new Function`) costs
 * more than a dozen executions, so a document sent once is not worth it, and a caller sending a new
 * document each time cannot make the gateway compile each one.
 */
export const COMPILE_AFTER_RUNS = 1;

/** Options for {@link createCompiledExecute}. */
export interface CompiledExecuteOptions {
  /** @default {@link COMPILE_AFTER_RUNS} */
  compileAfterRuns?: number;
  /** Told which executor answered each execution (the parity test checks it). */
  onRun?: (executor: 'compiled' | 'graphql-js') => void;
}

/**
 * Whether the operation has a variable inside a literal of a scalar type, e.g. a JSON payload written
 * inline as `{ qty: $q }`: graphql-jit drops such variables (graphql-js hands them to the scalar's
 * parseLiteral), so those operations stay on graphql-js.
 */
function variableInScalarLiteral(args: ExecutionArgs, operation: OperationDefinitionNode): boolean {
  const typeInfo = new TypeInfo(args.schema);
  let found = false;
  const inScalar: boolean[] = [];
  const enter = () => {
    const type = typeInfo.getInputType();
    inScalar.push(type !== null && type !== undefined && isLeafType(getNamedType(type)));
  };
  const leave = () => {
    inScalar.pop();
  };
  const visitor = visitWithTypeInfo(typeInfo, {
    ObjectValue: { enter, leave },
    ListValue: { enter, leave },
    Variable() {
      if (inScalar.includes(true)) found = true;
    },
  });
  visit(operation, visitor);
  for (const definition of args.document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) visit(definition, visitor);
  }
  return found;
}

/** The offset in `body` of a 1-based line and column, counting line breaks as graphql-js does. */
function offsetOf(body: string, line: number, column: number): number {
  const lineBreak = /\r\n|[\n\r]/g;
  let start = 0;
  for (let current = 1; current < line; current++) {
    const found = lineBreak.exec(body);
    if (!found) break;
    start = found.index + found[0].length;
  }
  return start + column - 1;
}

/**
 * graphql-jit's errors carry `locations` but not the nodes, source and positions graphql-js's carry,
 * which the error masking (schema/errors.ts) reads to keep an error's place when it rewrites one:
 * made again as graphql-js would have made them, they answer the same.
 */
/**
 * graphql-js raises a null in a non-null field as a plain Error, which the masking then hides as an
 * unexpected error (it is the server's fault); graphql-jit reports it with no original error at all.
 */
function nullViolation(message: string): Error | undefined {
  return message.startsWith('Cannot return null for non-nullable field ') ? new Error(message) : undefined;
}

function withGraphqlJsErrors(result: ExecutionResult, document: DocumentNode): ExecutionResult {
  const source: Source | undefined = document.loc?.source;
  if (!result.errors?.length || !source) return result;
  const errors = result.errors.map(
    (error) =>
      new GraphQLError(error.message, {
        source,
        positions: error.locations?.map(({ line, column }) => offsetOf(source.body, line, column)),
        path: error.path,
        originalError: error.originalError ?? nullViolation(error.message),
        // With an original error, graphql-js takes its extensions; without one, extensions are empty.
        ...(error.originalError ? {} : { extensions: error.extensions }),
      }),
  );
  return { ...result, errors };
}

function operationOf(args: ExecutionArgs): OperationDefinitionNode | null {
  const operations = args.document.definitions.filter(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
  if (args.operationName == null) return operations.length === 1 ? (operations[0] ?? null) : null;
  return operations.find((operation) => operation.name?.value === args.operationName) ?? null;
}

function compile(args: ExecutionArgs): CompiledQuery | null {
  const operation = operationOf(args);
  // Anything graphql-js answers with an error of its own (no such operation) stays with graphql-js.
  if (!operation || operation.operation === 'subscription') return null;
  if (variableInScalarLiteral(args, operation)) return null;
  const compiled = compileQuery(args.schema, args.document, args.operationName ?? undefined);
  return isCompiledQuery(compiled) ? compiled : null;
}

/**
 * An `execute` that runs queries and mutations through graphql-jit once their document has been seen
 * before, and through graphql-js otherwise. graphql-jit compiles an operation into one function that
 * coerces its variables and walks its fields without graphql-js's generic interpretation per request:
 * ~15 % of the gateway's CPU per single publish (docs/PERFORMANCE.md). Its answers are graphql-js's
 * (test/graphql/executor-parity.test.ts); where they would not be, graphql-js answers instead:
 * variables that do not coerce (graphql-jit words the refusal differently, and the contract's code
 * is set on graphql-js's error), variables inside a scalar literal, and documents graphql-js refuses.
 */
export function createCompiledExecute(
  options: CompiledExecuteOptions = {},
): (args: ExecutionArgs) => ExecutionResult | Promise<ExecutionResult> {
  const { compileAfterRuns = COMPILE_AFTER_RUNS, onRun } = options;
  // yoga's parse cache hands out the same DocumentNode for the same query text, so this holds one
  // entry per cached document and lets go of it with the document.
  const byDocument = new WeakMap<DocumentNode, Compiled>();
  return (args) => {
    let compiled = byDocument.get(args.document);
    if (!compiled) {
      compiled = { runs: 0, queries: new Map() };
      byDocument.set(args.document, compiled);
    }
    if (compiled.runs < compileAfterRuns) {
      compiled.runs += 1;
      onRun?.('graphql-js');
      return execute(args);
    }
    const name = args.operationName ?? '';
    let query = compiled.queries.get(name);
    if (query === undefined) {
      query = compile(args);
      compiled.queries.set(name, query);
    }
    if (query === null) {
      onRun?.('graphql-js');
      return execute(args);
    }
    const result = query.query(args.rootValue, args.contextValue, args.variableValues);
    // No `data` means the variables did not coerce, and nothing ran: graphql-js says why in its words.
    if (!(result instanceof Promise) && !('data' in result)) {
      onRun?.('graphql-js');
      return execute(args);
    }
    onRun?.('compiled');
    return result instanceof Promise
      ? result.then((settled) => withGraphqlJsErrors(settled, args.document))
      : withGraphqlJsErrors(result, args.document);
  };
}

/**
 * Queries and mutations run on graphql-jit (above) or graphql-js's own `execute`, never on yoga's
 * default (@graphql-tools/executor), which adds @defer/@stream, abort signals and a snapshot copy of
 * every input value: none of which this schema uses, and on a publishBatch the copy alone was 3 % of
 * the gateway's CPU (docs/PERFORMANCE.md). Subscriptions keep yoga's executor.
 */
export function useExecutor(executor: Executor): Plugin {
  const run = executor === 'compiled' ? createCompiledExecute() : execute;
  return {
    onExecute({ setExecuteFn }) {
      setExecuteFn(run);
    },
  };
}
