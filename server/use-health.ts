import type { Plugin } from 'graphql-yoga';

/** The body of `GET /health`. */
export interface HealthReport {
  /** Ready for traffic: Redis answers, delivery workers run, not shutting down. Decides 200 or 503. */
  ok: boolean;
  /** Redis answered a PING just now. */
  redis: boolean;
  /**
   * How long Redis may now stay silent before this gateway counts it as frozen and refuses work with
   * UNAVAILABLE: learned from how slowly it answered lately (60 ms on a quiet Redis, at most 750 ms).
   */
  redisUnresponsiveAfterMs: number;
  /** Webhook delivery workers running in this process. */
  workers: number;
  /** The gateway is draining for shutdown and takes no new work. */
  draining: boolean;
  version: string;
  uptimeSeconds: number;
}

/** Options for {@link useHealth}. */
export interface HealthOptions {
  /**
   * Path answered with the report. Yoga's own liveness check must not sit on the same path, or it answers first.
   * @default '/health'
   */
  endpoint?: string;
  /** Builds the report. A check that throws is answered as 503 with `ok: false`, never as a crash. */
  check: () => Promise<HealthReport>;
}

/**
 * A readiness endpoint for load balancers and orchestrators: 200 with the report while ready,
 * 503 with the same shape while not, so a probe and a person read the same JSON.
 */
export function useHealth(options: HealthOptions): Plugin {
  const endpoint = options.endpoint ?? '/health';
  return {
    async onRequest({ url, request, endResponse, fetchAPI }) {
      if (url.pathname !== endpoint || (request.method !== 'GET' && request.method !== 'HEAD')) return;
      let report: HealthReport | { ok: false; error: string };
      try {
        report = await options.check();
      } catch (error) {
        report = { ok: false, error: (error as Error).message };
      }
      endResponse(
        fetchAPI.Response.json(report, {
          status: report.ok ? 200 : 503,
          // A cached "ok" would keep a load balancer sending traffic to a gateway that lost Redis.
          headers: { 'cache-control': 'no-store' },
        }),
      );
    },
  };
}
