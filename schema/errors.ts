import { type ExecutionResult, GraphQLError } from 'graphql';
import {
  createGraphQLError,
  isAsyncIterable,
  type MaskError,
  type Plugin,
  maskError as yogaMaskError,
} from 'graphql-yoga';
import { ErrorCode, isRedisUnavailable, SwitchyardError } from '../queues/core/index.js';

/** The innermost cause: graphql-js wraps a resolver's error in a GraphQLError that carries its path. */
function rootCause(error: unknown): unknown {
  let cause = error;
  for (let depth = 0; depth < 10 && cause instanceof GraphQLError && cause.originalError; depth++) {
    cause = cause.originalError;
  }
  return cause;
}

/** A new error at the same place in the operation (path, locations) with the given code and message. */
function located(error: unknown, message: string, extensions: Record<string, unknown>): GraphQLError {
  const at = error instanceof GraphQLError ? error : undefined;
  return createGraphQLError(message, {
    nodes: at?.nodes,
    source: at?.source,
    positions: at?.positions,
    path: at?.path,
    extensions,
  });
}

/**
 * The one mapper from engine errors to GraphQL errors. A SwitchyardError keeps its message, its code
 * and its details; ioredis saying "no Redis" becomes UNAVAILABLE. Anything else answers null: it is
 * not ours to show, and yoga masks it.
 *
 * The answer has no `originalError`, which is what makes yoga's masking keep it as it is.
 */
export function toGraphQLError(error: unknown): GraphQLError | null {
  const cause = rootCause(error);
  if (cause instanceof SwitchyardError) {
    // The code goes last so that no detail can overwrite it.
    return located(error, cause.message, { ...cause.details, code: cause.code });
  }
  if (isRedisUnavailable(cause)) {
    return located(error, 'Redis is unavailable; retry later', { code: ErrorCode.Unavailable });
  }
  return null;
}

/**
 * yoga's `maskedErrors.maskError`. Resolver errors arrive already mapped (mapErrorsPlugin), so this
 * catches what happens outside a resolver, such as a subscription's stream failing later; the rest
 * is masked as "Unexpected error." (and logged) by yoga's own maskError.
 */
export const maskError: MaskError = (error, message, isDev) =>
  toGraphQLError(error) ?? yogaMaskError(error, message, isDev);

const CONTRACT_CODES: ReadonlySet<unknown> = new Set(Object.values(ErrorCode));

/**
 * GraphQL's own refusals of a request (syntax, validation, variable coercion) are the client's to fix.
 * An error that already carries a contract code keeps it: a plugin's refusal (UNAUTHENTICATED,
 * RATE_LIMITED…) can end an operation before execution, with no `data`, and must not be relabelled.
 */
function markBadInput(error: unknown): void {
  // By name, not instanceof: errors made by yoga may come from graphql's CommonJS build (dual package).
  if (!(error instanceof Error) || error.name !== 'GraphQLError') return;
  const { extensions } = error as GraphQLError;
  if (typeof extensions !== 'object' || extensions === null || CONTRACT_CODES.has(extensions.code)) return;
  // Mutated in place as yoga's own validation plugin does: these errors may sit in the validation
  // cache, and setting the same code again is harmless.
  (extensions as Record<string, unknown>).code = ErrorCode.BadUserInput;
}

/**
 * yoga's codes for a request it could not take (a body that is not JSON, `variables` that are not an
 * object, a mutation over GET, no operation to run…). Its REQUEST_ENTITY_TOO_LARGE is left to
 * server/use-limits.ts, which answers PAYLOAD_TOO_LARGE.
 */
const YOGA_REQUEST_CODES: ReadonlySet<unknown> = new Set([
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
]);

/** yoga's own codes for a refused request become BAD_USER_INPUT (see {@link useInputErrorCodes}). */
export function markRequestErrorCodes(result: ExecutionResult | readonly ExecutionResult[]): void {
  for (const one of Array.isArray(result) ? result : [result]) {
    for (const error of one.errors ?? []) {
      if (YOGA_REQUEST_CODES.has(error.extensions?.code)) markBadInput(error);
    }
  }
}

const badRequest = (message: string, status: number) =>
  createGraphQLError(message, { extensions: { code: ErrorCode.BadUserInput, http: { status } } });

/**
 * Gives every refusal of a request the contract's BAD_USER_INPUT instead of yoga's
 * GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED / BAD_REQUEST or no code at all (variables that
 * do not coerce), so every refused request carries one of API.graphql's codes, and answers as a
 * GraphQL error two refusals yoga answers otherwise: a POST body of a type no parser takes (an empty
 * 415) and a GET whose `variables` or `extensions` are not JSON (a 500, as yoga's parser throws).
 */
export function useInputErrorCodes(): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, endResponse, fetchAPI }) {
      if (!requestParser) {
        if (request.method !== 'POST') return;
        const type = JSON.stringify(request.headers.get('content-type') ?? '');
        const error = {
          message: `Unsupported content type ${type}: send application/json`,
          extensions: { code: ErrorCode.BadUserInput },
        };
        return endResponse(
          new fetchAPI.Response(JSON.stringify({ errors: [error] }), {
            status: 415,
            headers: { 'content-type': 'application/json; charset=utf-8' },
          }),
        );
      }
      setRequestParser(async (parsed) => {
        try {
          return await requestParser(parsed);
        } catch (error) {
          if (error instanceof Error && error.name === 'GraphQLError') throw error;
          throw badRequest(
            `The request could not be read: ${error instanceof Error ? error.message : String(error)}`,
            400,
          );
        }
      });
    },
    onResultProcess({ result }) {
      if (!isAsyncIterable(result)) markRequestErrorCodes(result);
    },
    onParse:
      () =>
      ({ result }) =>
        markBadInput(result),
    onValidate({ validateFn, setValidationFn }) {
      // Some of graphql-js's rules throw instead of reporting: SingleFieldSubscriptionsRule evaluates
      // @skip(if: flse) and throws "Argument "if" has invalid value". That is a refusal like any other.
      setValidationFn((...args) => {
        try {
          return validateFn(...args);
        } catch (error) {
          if (error instanceof Error && error.name === 'GraphQLError') return [error as GraphQLError];
          throw error;
        }
      });
      return ({ valid, result }) => {
        if (!valid) for (const error of result) markBadInput(error);
      };
    },
    onExecute: () => ({
      onExecuteDone: ({ result }) => {
        // No `data` at all means the request failed before execution began: a variable did not coerce.
        if (isAsyncIterable(result) || 'data' in result) return;
        for (const error of result.errors ?? []) markBadInput(error);
      },
    }),
  };
}
