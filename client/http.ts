/** GraphQL over HTTP with fetch: one POST per operation, errors turned into SwitchyardError. */

import { fromGraphQLErrors, type GraphQLErrorBody, isGraphQLErrors, SwitchyardError } from './errors.js';
import type { TypedDocumentString } from './generated/graphql.js';

/** An operation's variables argument: optional when the operation needs none. */
export type VariablesArg<V> = Record<string, never> extends V ? [variables?: V] : [variables: V];

export interface HttpTransportOptions {
  url: string;
  apiKey: string | undefined;
  timeoutMs: number;
  fetch: typeof fetch;
  headers: Readonly<Record<string, string>>;
}

export type Execute = <TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  options?: { extraTimeoutMs?: number },
) => Promise<TResult>;

interface ResponseBody {
  data?: unknown;
  errors?: unknown;
}

export function createHttpTransport(options: HttpTransportOptions): Execute {
  const headers: Record<string, string> = {
    ...options.headers,
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
  };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;

  return async <TResult, TVariables>(
    document: TypedDocumentString<TResult, TVariables>,
    variables: TVariables,
    call: { extraTimeoutMs?: number } = {},
  ): Promise<TResult> => {
    const timeoutMs = options.timeoutMs + (call.extraTimeoutMs ?? 0);
    let response: Response;
    try {
      response = await options.fetch(options.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query: document.toString(), variables }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      if (error instanceof DOMException && error.name === 'TimeoutError')
        throw new SwitchyardError(`The gateway did not answer within ${timeoutMs} ms`, 'TIMEOUT', {
          cause: error,
        });
      throw new SwitchyardError(`The gateway cannot be reached at ${options.url}`, 'UNAVAILABLE', {
        cause: error,
      });
    }
    const body = (await response.json().catch(() => null)) as ResponseBody | null;
    const errors: readonly GraphQLErrorBody[] = isGraphQLErrors(body?.errors) ? body.errors : [];
    if (errors.length > 0) throw fromGraphQLErrors(errors, response.status);
    if (body?.data == null)
      throw new SwitchyardError(`The gateway answered HTTP ${response.status} without data`, 'UNAVAILABLE', {
        status: response.status,
      });
    return body.data as TResult;
  };
}
