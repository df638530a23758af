import { Pool } from 'undici';

export interface GraphqlClient {
  /** POSTs one operation; resolves with `data`, rejects on an HTTP or GraphQL error. */
  request<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

interface GraphqlAnswer {
  data?: unknown;
  errors?: { message?: string; extensions?: { code?: string } }[];
}

/**
 * GraphQL over HTTP with a pool of keep-alive connections: what a busy service in front of the
 * gateway would use. undici's Pool rather than node:http's Agent, because the load generator shares
 * two cores with everything under test and undici spends less CPU per request.
 */
export function createGraphqlClient(url: string, connections: number): GraphqlClient {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  return {
    async request<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
      const response = await pool.request({
        path: target.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      const answer = (await response.body.json()) as GraphqlAnswer;
      const first = answer.errors?.[0];
      if (first || response.statusCode !== 200) {
        const code = first?.extensions?.code ? ` [${first.extensions.code}]` : '';
        throw new Error(`GraphQL HTTP ${response.statusCode}${code}: ${first?.message ?? 'no data'}`);
      }
      return answer.data as T;
    },
    close: () => pool.close(),
  };
}
