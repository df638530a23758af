import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import { can } from '../queues/security/index.js';
import { type Authenticator, presentedByRequest } from './auth.js';

/** Options for {@link useMetrics}. */
export interface MetricsPluginOptions {
  /** The engine's metrics. */
  metrics: { contentType: string; render: () => Promise<string> };
  /** Who may scrape: a caller with the `stats` (or `admin`) scope, as for the stats in GraphQL. */
  authenticator: Authenticator;
  /**
   * Path answered with the metrics.
   * @default '/metrics'
   */
  endpoint?: string;
}

const TEXT = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };

/**
 * `GET /metrics` in Prometheus' text format. Queue and topic names are the deployment's map, so a
 * scrape needs what the `stats` GraphQL fields need: protected mode's loopback trust, or a key with
 * `stats` as `Authorization: Bearer <key>` (Prometheus: `authorization: { credentials: … }`).
 */
export function useMetrics(options: MetricsPluginOptions): Plugin {
  const endpoint = options.endpoint ?? '/metrics';
  return {
    async onRequest({ url, request, serverContext, endResponse, fetchAPI }) {
      if (url.pathname !== endpoint) return;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(
          new fetchAPI.Response('Method not allowed\n', {
            status: 405,
            headers: { ...TEXT, allow: 'GET, HEAD' },
          }),
        );
        return;
      }
      const req = (serverContext as { req?: IncomingMessage } | undefined)?.req;
      const verdict = await options.authenticator.authenticate(
        presentedByRequest(request, req?.socket.remoteAddress),
        true,
      );
      if (!verdict.ok) {
        endResponse(
          new fetchAPI.Response(`${verdict.error.message}\n`, {
            status: 401,
            headers: { ...TEXT, 'www-authenticate': 'Bearer' },
          }),
        );
        return;
      }
      if (!can(verdict.caller.scopes, 'stats')) {
        endResponse(
          new fetchAPI.Response('This API key lacks the stats scope that /metrics needs\n', {
            status: 403,
            headers: TEXT,
          }),
        );
        return;
      }
      let body: string;
      try {
        body = await options.metrics.render();
      } catch (error) {
        endResponse(
          new fetchAPI.Response(`Metrics could not be read: ${(error as Error).message}\n`, {
            status: 503,
            headers: TEXT,
          }),
        );
        return;
      }
      endResponse(
        new fetchAPI.Response(request.method === 'HEAD' ? null : body, {
          status: 200,
          headers: { 'content-type': options.metrics.contentType, 'cache-control': 'no-store' },
        }),
      );
    },
  };
}
