/** The config's security settings, shaped for the engine and for yoga, so gateway.ts only passes them on. */
import type { SecurityOptions } from '../queues/security/index.js';
import { type Config, listensOnLoopbackOnly } from './config.js';
import type { RequestLimits } from './use-limits.js';

/** What createEngine takes from the config: SSRF policy, batch size, secret rotation, rate limits, audit. */
export function engineSecurityOptions(config: Config): SecurityOptions & { maxBatchSize: number } {
  return {
    // A gateway only this machine can reach grants nobody a view of the private network they lack.
    webhookPolicy: { allowPrivate: config.allowPrivateWebhooks || listensOnLoopbackOnly(config.host) },
    maxBatchSize: config.maxBatchSize,
    signingSecretGraceMs: config.signingSecretGraceMs,
    rateLimit:
      config.rateLimitPerSecond > 0
        ? { perSecond: config.rateLimitPerSecond, burst: Math.max(config.rateLimitBurst, 1) }
        : null,
    auditLog: { maxEntries: config.auditMaxEntries, retentionMs: config.auditRetentionMs },
  };
}

/** The limits every GraphQL request is held to. */
export function requestLimits(config: Config): RequestLimits {
  return {
    maxDepth: config.maxDepth,
    maxCost: config.maxCost,
    maxAliases: config.maxAliases,
    maxDirectives: config.maxDirectives,
    maxTokens: config.maxTokens,
    maxRequestBytes: config.maxRequestBytes,
    introspection: config.introspection,
  };
}
