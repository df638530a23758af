import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { type ExecutionResult, GraphQLError, NoSchemaIntrospectionCustomRule } from 'graphql';
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
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(maxTokensPlugin({ ...armor, n: limits.maxTokens }));
      addPlugin(maxDepthPlugin({ ...armor, n: limits.maxDepth }));
      addPlugin(costLimitPlugin({ ...armor, maxCost: limits.maxCost }));
      addPlugin(maxAliasesPlugin({ ...armor, n: limits.maxAliases }));
      addPlugin(maxDirectivesPlugin({ ...armor, n: limits.maxDirectives }));
      if (!limits.introspection) addPlugin(blockFieldSuggestionsPlugin());
    },
    onValidate({ addValidationRule }) {
      if (!limits.introspection) addValidationRule(NoSchemaIntrospectionCustomRule);
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
