/**
 * The dashboard's only way to the gateway: GraphQL over HTTP for queries and actions, graphql-ws for
 * the live views. Both carry the key the person entered, so the dashboard can do exactly what that
 * key's scopes allow and nothing more.
 */
import { type Client, createClient } from 'graphql-ws';
import type { TypedDocumentString } from '../../client/generated/graphql.js';

const GRAPHQL_PATH = '/graphql';
/** sessionStorage, not localStorage: a key typed into a shared browser is gone with the tab. */
const KEY_STORAGE = 'switchyard.apiKey';

/** A refusal or failure, with the gateway's stable code (API.graphql) when it gave one. */
export class GatewayError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** The error's other extensions, such as a VALIDATION error's `path` and `keyword`. */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

interface GraphQLErrorBody {
  message: string;
  extensions?: { code?: string; [name: string]: unknown };
}

interface GraphQLResponseBody<T> {
  data?: T | null;
  errors?: readonly GraphQLErrorBody[];
}

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

/** Sets (or with null forgets) the key; open streams reconnect with it. */
export function setApiKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
  socket?.terminate();
  socket = null;
}

function firstError(errors: readonly GraphQLErrorBody[]): GatewayError {
  const [error] = errors;
  const { code, ...details } = error?.extensions ?? {};
  return new GatewayError(error?.message ?? 'The gateway refused the request', code ?? 'UNKNOWN', details);
}

/** An operation's variables argument: optional when the operation needs none. */
type VariablesArg<V> = Record<string, never> extends V ? [variables?: V] : [variables: V];

/**
 * Runs a query or mutation; throws a {@link GatewayError} for any error the gateway answers. Only a
 * generated document (web/src/dashboard.graphql → client/generated/graphql.ts, `npm run codegen`) is
 * taken, so the variables and the answer are typed by the schema and no query is written by hand.
 */
export async function request<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  ...[variables]: VariablesArg<TVariables>
): Promise<TResult> {
  const query = document.toString();
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const key = apiKey();
  if (key) headers.authorization = `Bearer ${key}`;
  let response: Response;
  try {
    response = await fetch(GRAPHQL_PATH, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new GatewayError('The gateway cannot be reached', 'UNAVAILABLE');
  }
  const body = (await response.json().catch(() => null)) as GraphQLResponseBody<TResult> | null;
  if (body?.errors?.length) throw firstError(body.errors);
  if (!body?.data) throw new GatewayError(`The gateway answered HTTP ${response.status}`, 'UNAVAILABLE');
  return body.data;
}

let socket: Client | null = null;
const reconnected = new Set<() => void>();

/**
 * Calls `listener` each time the live connection comes back after a break: what a stream pushed
 * meanwhile is lost, so views that keep state from one (the alerts) read it again. The answer stops it.
 */
export function onReconnected(listener: () => void): () => void {
  reconnected.add(listener);
  return () => reconnected.delete(listener);
}

function liveClient(): Client {
  socket ??= createClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${GRAPHQL_PATH}`,
    connectionParams: () => {
      const key = apiKey();
      return key ? { authorization: `Bearer ${key}` } : {};
    },
    // A dashboard left open should outlive a gateway restart; graphql-ws backs off between tries.
    retryAttempts: 30,
    on: {
      connected: (_socket, _payload, wasRetry) => {
        if (wasRetry) for (const listener of reconnected) listener();
      },
    },
  });
  return socket;
}

/** Why a stream ended: GraphQL errors, or the socket's close event (4403: the key was refused). */
function streamError(error: unknown): GatewayError {
  if (Array.isArray(error)) return firstError(error as GraphQLErrorBody[]);
  if (error instanceof CloseEvent) {
    const code = error.code === 4403 ? 'UNAUTHENTICATED' : 'UNAVAILABLE';
    return new GatewayError(error.reason || `The live connection closed (${error.code})`, code);
  }
  return new GatewayError(
    error instanceof Error ? error.message : 'The live connection failed',
    'UNAVAILABLE',
  );
}

export interface StreamHandlers<T> {
  next(data: T): void;
  error(error: GatewayError): void;
}

/**
 * Starts a subscription; the answer stops it. Only a generated document is taken: it types the
 * variables and the data.
 */
export function subscribe<TResult, TVariables extends Record<string, unknown>>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  handlers: StreamHandlers<TResult>,
): () => void {
  return liveClient().subscribe<TResult>(
    { query: document.toString(), variables },
    {
      next: (result) => {
        if (result.errors?.length) handlers.error(firstError(result.errors));
        else if (result.data) handlers.next(result.data);
      },
      error: (error) => handlers.error(streamError(error)),
      complete: () => {},
    },
  );
}
