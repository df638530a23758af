import { GraphQLError } from 'graphql';
import {
  createGraphQLError,
  isAsyncIterable,
  type MaskError,
  type Plugin,
  maskError as yogaMaskError,
} from 'graphql-yoga';
import { ErrorCode, isRedisUnavailable, SwitchyardError } from '../queues/errors.js';

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

/** GraphQL's own refusals of a request (syntax, validation, variable coercion) are the client's to fix. */
function markBadInput(error: unknown): void {
  if (!(error instanceof GraphQLError)) return;
  // Mutated in place as yoga's own validation plugin does: these errors may sit in the validation
  // cache, and setting the same code again is harmless.
  (error.extensions as Record<string, unknown>).code = ErrorCode.BadUserInput;
}

/**
 * Gives GraphQL's own request errors the contract's BAD_USER_INPUT instead of yoga's
 * GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED or no code at all (variables that do not coerce),
 * so every refused request carries one of API.graphql's codes.
 */
export function useInputErrorCodes(): Plugin {
  return {
    onParse:
      () =>
      ({ result }) =>
        markBadInput(result),
    onValidate:
      () =>
      ({ valid, result }) => {
        if (!valid) for (const error of result) markBadInput(error);
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
