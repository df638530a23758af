import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../queues/core/index.js';

/** Options for {@link useDrain}. */
export interface DrainOptions {
  /** True once shutdown has begun; from then on every request that reaches this plugin is refused. */
  isDraining: () => boolean;
  /**
   * Seconds a client is told to wait before retrying (`retry-after`), typically against another instance.
   * @default 1
   */
  retryAfterSeconds?: number;
}

export const DRAINING_MESSAGE =
  'Switchyard is shutting down and takes no new requests; retry against another instance';

/**
 * Refuses new requests while the gateway drains, with 503 and a GraphQL error coded UNAVAILABLE,
 * and asks the client to close its keep-alive connection, so in-flight work finishes while nothing new
 * starts. Put it after {@link useHealth} so that probes still get the (503) health report.
 */
export function useDrain(options: DrainOptions): Plugin {
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  return {
    onRequest({ endResponse, fetchAPI }) {
      if (!options.isDraining()) return;
      endResponse(
        fetchAPI.Response.json(
          { errors: [{ message: DRAINING_MESSAGE, extensions: { code: ErrorCode.Unavailable } }] },
          { status: 503, headers: { connection: 'close', 'retry-after': retryAfter } },
        ),
      );
    },
  };
}
