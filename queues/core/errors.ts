/**
 * The stable error codes of the public contract (API.graphql). The engine speaks them too, so that
 * one mapper at the GraphQL boundary can turn any refusal into `extensions.code` without guessing.
 */
export const ErrorCode = {
  BadUserInput: 'BAD_USER_INPUT',
  Validation: 'VALIDATION',
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  RateLimited: 'RATE_LIMITED',
  Unavailable: 'UNAVAILABLE',
  Timeout: 'TIMEOUT',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A refusal the caller can act on. Its message is shown to clients as is, so it never holds secrets. */
export class SwitchyardError extends Error {
  override readonly name = 'SwitchyardError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const badInput = (message: string, details?: Record<string, unknown>) =>
  new SwitchyardError(ErrorCode.BadUserInput, message, details);
export const notFound = (message: string) => new SwitchyardError(ErrorCode.NotFound, message);
export const conflict = (message: string) => new SwitchyardError(ErrorCode.Conflict, message);

/**
 * ioredis' and Redis' ways of saying "no Redis for this right now" (no connection, loading, out of
 * memory, read-only, a failing disk); the boundary answers UNAVAILABLE for these.
 */
const UNAVAILABLE_PATTERNS = [
  /^(OOM|MISCONF|NOREPLICAS) /,
  /Stream isn't writeable/,
  /Connection is closed/,
  /Reached the max retries per request/,
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE/,
  /LOADING|MASTERDOWN|CLUSTERDOWN|READONLY|TRYAGAIN/,
  // Redis Cluster (ioredis Cluster): no node reachable, a slot map that cannot be refreshed, a
  // failover that outlasts the redirections.
  /Cluster isn't ready|None of startup nodes is available|Failed to refresh slots cache|Too many Cluster redirections/,
];

export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return UNAVAILABLE_PATTERNS.some((pattern) => pattern.test(error.message));
}
