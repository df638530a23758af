/** The one error the client throws, with the gateway's stable code. */

/** The codes the gateway answers in `extensions.code` (docs/API.contract.graphql). */
export const GATEWAY_ERROR_CODES = [
  'BAD_USER_INPUT',
  'VALIDATION',
  'NOT_FOUND',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'TIMEOUT',
] as const;
export type GatewayErrorCode = (typeof GATEWAY_ERROR_CODES)[number];

/**
 * A gateway code, or one the client adds: `INVALID_SIGNATURE` when a webhook fails verification,
 * `INTERNAL` when the gateway failed without a documented code (a masked "Unexpected error.").
 * The client itself answers `UNAVAILABLE` when the gateway cannot be reached or answers no GraphQL,
 * and `TIMEOUT` when a request outlives `timeoutMs`.
 */
export type SwitchyardErrorCode = GatewayErrorCode | 'INVALID_SIGNATURE' | 'INTERNAL';

/** One GraphQL error as the gateway sends it. */
export interface GraphQLErrorBody {
  message: string;
  path?: readonly (string | number)[];
  extensions?: Readonly<Record<string, unknown>>;
}

export interface SwitchyardErrorOptions {
  /** The GraphQL error's `extensions`, as answered. */
  extensions?: Readonly<Record<string, unknown>>;
  /** The field the error belongs to, as answered. */
  path?: readonly (string | number)[];
  /** The HTTP status of the answer, when there was one. */
  status?: number;
  /** Every GraphQL error of the answer; the error's own message and code are the first one's. */
  errors?: readonly GraphQLErrorBody[];
  /** What went wrong underneath (a network error, a websocket close event). */
  cause?: unknown;
}

export class SwitchyardError extends Error {
  override readonly name = 'SwitchyardError';
  readonly extensions: Readonly<Record<string, unknown>>;
  readonly path: readonly (string | number)[] | undefined;
  readonly status: number | undefined;
  readonly errors: readonly GraphQLErrorBody[];

  constructor(
    message: string,
    readonly code: SwitchyardErrorCode,
    options: SwitchyardErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.extensions = options.extensions ?? { code };
    this.path = options.path;
    this.status = options.status;
    this.errors = options.errors ?? [];
  }
}

function isGatewayCode(code: unknown): code is GatewayErrorCode {
  return typeof code === 'string' && (GATEWAY_ERROR_CODES as readonly string[]).includes(code);
}

/** The error for an answer with GraphQL errors: the first one's message and code. */
export function fromGraphQLErrors(errors: readonly GraphQLErrorBody[], status?: number): SwitchyardError {
  const [first] = errors;
  const code = first?.extensions?.code;
  return new SwitchyardError(
    first?.message ?? 'The gateway refused the request',
    isGatewayCode(code) ? code : 'INTERNAL',
    {
      ...(first?.extensions ? { extensions: first.extensions } : {}),
      ...(first?.path ? { path: first.path } : {}),
      ...(status === undefined ? {} : { status }),
      errors,
    },
  );
}

/** Whether `value` looks like an array of GraphQL errors (what graphql-ws hands an `error` sink). */
export function isGraphQLErrors(value: unknown): value is readonly GraphQLErrorBody[] {
  return (
    Array.isArray(value) &&
    value.every((item) => typeof item === 'object' && item !== null && typeof item.message === 'string')
  );
}
