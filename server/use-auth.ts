import type { IncomingMessage } from 'node:http';
import type { ExecutionResult } from 'graphql';
import { GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { ErrorCode, isRedisUnavailable, SwitchyardError } from '../queues/core/index.js';
import type { ApiKeys, Caller, RateLimiter } from '../queues/security/index.js';
import { type Authenticator, presentedByConnection, presentedByRequest } from './auth.js';
import { createRevocableStreams } from './revocable-streams.js';

/** Options for {@link useAuth}. */
export interface AuthPluginOptions {
  /** Resolves callers (server/auth.ts). */
  authenticator: Authenticator;
  /**
   * Per-key token buckets (the engine's `rateLimiter`); null or absent serves without rate limits.
   * Loopback callers without a key are never limited: they exist only in protected mode, where
   * nothing outside this machine can reach the gateway.
   * @default null
   */
  rateLimiter?: Pick<RateLimiter, 'take'> | null;
  /**
   * Where revocations are heard (the engine's `apiKeys`): a revoked key's subscriptions over HTTP (SSE)
   * then end with a last UNAUTHENTICATED result. Null or absent leaves them running until they end.
   * @default null
   */
  revocations?: Pick<ApiKeys, 'onRevoked'> | null;
}

/** The node request behind a yoga server context or a graphql-ws context, if there is one. */
function nodeRequestOf(context: object): IncomingMessage | undefined {
  const req = (context as { req?: unknown }).req;
  if (typeof req !== 'object' || req === null || !('socket' in req)) return undefined;
  return req as IncomingMessage;
}

function rateLimited(retryAfterMs: number, http: boolean): GraphQLError {
  return new GraphQLError(`Rate limit exceeded for this API key; retry in ${retryAfterMs} ms`, {
    extensions: {
      code: ErrorCode.RateLimited,
      retryAfterMs,
      ...(http
        ? { http: { status: 429, headers: { 'Retry-After': String(Math.ceil(retryAfterMs / 1000)) } } }
        : {}),
    },
  });
}

const refusal = (error: GraphQLError): ExecutionResult => ({ errors: [error] });

/** Answered when Redis (API keys, rate-limit buckets) cannot be reached: the same code resolvers use. */
function redisUnavailable(http: boolean): GraphQLError {
  return new GraphQLError('Redis is unavailable; retry later', {
    extensions: {
      code: ErrorCode.Unavailable,
      ...(http ? { http: { status: 503, headers: { 'Retry-After': '1' } } } : {}),
    },
  });
}

/**
 * Runs a check that reads Redis; Redis being away answers UNAVAILABLE instead of escaping as an
 * unexpected error (masked to a 500 "Unexpected error."), found by test/faults/redis-outage.test.ts.
 */
async function unlessRedisDown<T>(check: () => Promise<T>, http: boolean): Promise<T | GraphQLError> {
  try {
    return await check();
  } catch (error) {
    // The engine's watchdog refuses lookups at once while Redis does not answer (queues/engine/redis-watch.ts).
    const refused = error instanceof SwitchyardError && error.code === ErrorCode.Unavailable;
    if (refused || isRedisUnavailable(error)) return redisUnavailable(http);
    throw error;
  }
}

/**
 * Authentication and per-key rate limits, before any work is done for the request. Over HTTP it runs
 * in `onParams`, before parsing; a refusal answers UNAUTHENTICATED (401) or RATE_LIMITED (429, with
 * `extensions.retryAfterMs`). Operations that arrive any other way (graphql-ws through
 * `yoga.getEnveloped`) are checked when they execute: as the caller their socket was acknowledged for
 * (server/websocket-auth.ts puts it in the initial context), else from the connection_init payload,
 * and charged to its rate limit; a refusal stops them before they run. Either way the resolvers find
 * the caller in `context.auth`, and the schema's scopes (schema/auth-scopes.ts) decide per field.
 */
export function useAuth(options: AuthPluginOptions): Plugin<{ auth?: Caller }> {
  const { authenticator } = options;
  const limiter = options.rateLimiter ?? null;
  const revocable = options.revocations ? createRevocableStreams(options.revocations) : null;
  /** Contexts already authenticated and charged, so an operation is never charged twice. */
  const checked = new WeakSet<object>();

  async function charge(caller: Caller, http: boolean): Promise<GraphQLError | null> {
    if (!limiter || caller.key === null) return null;
    const verdict = await limiter.take(caller.key.id);
    return verdict.allowed ? null : rateLimited(verdict.retryAfterMs, http);
  }

  /** For operations that did not come through HTTP: authenticate from the context, then charge. */
  async function checkOperation(
    context: object,
    stop: (result: ExecutionResult) => void,
    extend: (extension: { auth: Caller }) => void,
  ): Promise<void> {
    if (checked.has(context)) return;
    const { auth: preset, connectionParams } = context as { auth?: Caller; connectionParams?: unknown };
    let caller = preset;
    if (!caller) {
      const verdict = await unlessRedisDown(
        () =>
          authenticator.authenticate(presentedByConnection(connectionParams, nodeRequestOf(context)), false),
        false,
      );
      if (verdict instanceof GraphQLError) return stop(refusal(verdict));
      if (!verdict.ok) return stop(refusal(verdict.error));
      caller = verdict.caller;
    }
    const known = caller;
    const limited = await unlessRedisDown(() => charge(known, false), false);
    if (limited) return stop(refusal(limited));
    checked.add(context);
    extend({ auth: caller });
  }

  return {
    async onParams({ request, context, setResult }) {
      const verdict = await unlessRedisDown(
        () =>
          authenticator.authenticate(
            presentedByRequest(request, nodeRequestOf(context)?.socket.remoteAddress),
            true,
          ),
        true,
      );
      if (verdict instanceof GraphQLError) return setResult(refusal(verdict));
      if (!verdict.ok) return setResult(refusal(verdict.error));
      // Callers without a key (loopback in protected mode) and gateways without limits skip the charge
      // and its two awaits: the onParams of every request.
      if (limiter && verdict.caller.key !== null) {
        const limited = await unlessRedisDown(() => charge(verdict.caller, true), true);
        if (limited) return setResult(refusal(limited));
      }
      // The server context becomes the operation's context (yoga assigns to it), so this reaches resolvers.
      Object.assign(context, { auth: verdict.caller });
      checked.add(context);
    },
    onExecute({ args, setResultAndStopExecution, extendContext }) {
      // Synchronously for HTTP requests, which onParams checked: a promise here would make envelop
      // run the rest of every execution's hooks a microtask later.
      if (checked.has(args.contextValue)) return;
      return checkOperation(args.contextValue, setResultAndStopExecution, extendContext);
    },
    async onSubscribe({ args, setResultAndStopExecution, extendContext }) {
      await checkOperation(args.contextValue, setResultAndStopExecution, extendContext);
      const context = args.contextValue as { auth?: Caller; socket?: unknown };
      // Over websockets the socket itself is closed with 4403 when the key is revoked.
      if (!revocable || 'socket' in context) return;
      return {
        onSubscribeResult({ result, setResult }) {
          const keyId = context.auth?.key?.id;
          if (keyId && isAsyncIterable(result)) setResult(revocable.wrap(keyId, result));
        },
      };
    },
  };
}
