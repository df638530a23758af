import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import {
  type ExecutionResult,
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  type ValidationRule,
} from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { ErrorCode } from '../queues/core/index.js';

/** The limits every operation is held to; the gateway fills them from its config. */
export interface RequestLimits {
  /** Deepest selection nesting (introspection excepted). */
  maxDepth: number;
  /** Highest cost as graphql-armor counts it: objects 2, scalars 1, x1.5 per level, x`first`. */
  maxCost: number;
  /** Most aliases in one operation (`__typename` excepted). */
  maxAliases: number;
  /** Most directives in one operation. */
  maxDirectives: number;
  /** Most lexical tokens in one document: bounds the parser's work. */
  maxTokens: number;
  /** The request body limit yoga enforces (its `maxRequestBodySize`), for the refusal's message. */
  maxRequestBytes: number;
  /** Answer introspection; when false, field suggestions ("Did you mean …?") are withheld too. */
  introspection: boolean;
}

/**
 * graphql-armor reports limits as "Syntax Error: …" without a code (or throws them); the contract's
 * code for a request the client has to change is BAD_USER_INPUT. Mutated in place, as yoga's own
 * validation errors are, before the error leaves the parser or the validator.
 */
function markBadInput(_context: unknown, error: GraphQLError): void {
  (error.extensions as Record<string, unknown>).code = ErrorCode.BadUserInput;
}

/** What yoga's body limit (maxRequestBodySize) answers; the contract's code for it is PAYLOAD_TOO_LARGE. */
const YOGA_TOO_LARGE = 'REQUEST_ENTITY_TOO_LARGE';

/** The refusal of a body over `maxRequestBytes`, the same on every path that reads a body. */
export function tooLargeError(maxRequestBytes: number): GraphQLError {
  return new GraphQLError(
    `Request body is larger than ${maxRequestBytes} bytes (SWITCHYARD_MAX_REQUEST_BYTES)`,
    { extensions: { code: ErrorCode.PayloadTooLarge, http: { status: 413 } } },
  );
}

/**
 * Depth, cost, alias, directive and token limits (graphql-armor), introspection switch, and the
 * contract's code for too large a body. All of them refuse during parsing or validation, so a
 * refused operation never reaches a resolver; they work the same for persisted operations, whose
 * documents go through the same parse and validate.
 */
export function useRequestLimits(limits: RequestLimits): Plugin {
  const armor = { onReject: [markBadInput], propagateOnRejection: true, exposeLimits: true };
  // The rules graphql-armor's depth, cost, alias and directive plugins would add, made once: each of
  // those plugins makes its rule anew in an onValidate hook of its own on every request, and yoga's
  // validation cache then keyed every request by the names of all the rules (docs/PERFORMANCE.md).
  // Same rules, same options, same order as the plugins added them; made once, they are also the same
  // objects on every request, which server/use-validation-cache.ts keys its cache by.
  const rules: ValidationRule[] = [
    ...(limits.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
    maxDepthRule({ ...armor, n: limits.maxDepth }),
    costLimitRule({ ...armor, maxCost: limits.maxCost }),
    maxAliasesRule({ ...armor, n: limits.maxAliases }),
    maxDirectivesRule({ ...armor, n: limits.maxDirectives }),
  ];
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(maxTokensPlugin({ ...armor, n: limits.maxTokens }));
      if (!limits.introspection) addPlugin(blockFieldSuggestionsPlugin());
    },
    onValidate({ addValidationRule }) {
      for (const rule of rules) addValidationRule(rule);
    },
    onResultProcess({ result, setResult }) {
      if (isAsyncIterable(result)) return;
      const results: ExecutionResult[] = Array.isArray(result) ? result : [result];
      if (results.some((one) => one.errors?.some((error) => error.extensions?.code === YOGA_TOO_LARGE))) {
        setResult({ errors: [tooLargeError(limits.maxRequestBytes)] });
      }
    },
  };
}
