/**
 * The engine's security parts in one place, so engine.ts only wires them: API keys, the audit log,
 * per-key rate limits and the webhook SSRF guard (its create-time check and its guarded agent).
 */

import { ENGINE_DEFAULTS } from '../core/index.js';
import type { Commands, Keys, RedisClient } from '../redis/index.js';
import { createApiKeys } from './api-keys.js';
import { createAuditLog } from './audit-log.js';
import { createRateLimiter, type RateLimitSettings } from './rate-limit.js';
import { assertWebhookTarget, createGuardedAgent, type WebhookPolicy } from './webhook-guard.js';

/** The security settings of an engine; every one has a default. */
export interface SecurityOptions {
  /**
   * Which webhook targets are allowed besides public addresses (checked when a URL is set and on
   * every connection). Tests with loopback receivers pass `{ allowPrivate: true }`.
   * @default { allowPrivate: false }
   */
  webhookPolicy?: WebhookPolicy;
  /**
   * How long an old signing secret keeps signing after rotateSigningSecret, in ms.
   * @default 86400000 (24 hours)
   */
  signingSecretGraceMs?: number;
  /**
   * Per-key token buckets; null turns rate limiting off.
   * @default null
   */
  rateLimit?: RateLimitSettings | null;
  /**
   * Audit log retention.
   * @default { maxEntries: 100000, retentionMs: 90 days }
   */
  auditLog?: { maxEntries?: number; retentionMs?: number };
}

interface SecurityDeps {
  client: RedisClient;
  subscriber: RedisClient;
  keys: Keys;
  commands: Commands;
  onError: (error: Error) => void;
}

export function createSecurity(deps: SecurityDeps, options: SecurityOptions) {
  const policy: WebhookPolicy = { allowPrivate: options.webhookPolicy?.allowPrivate ?? false };
  const apiKeys = createApiKeys({
    client: deps.client,
    subscriber: deps.subscriber,
    keys: deps.keys,
    onError: deps.onError,
  });
  const rateLimiter = options.rateLimit
    ? createRateLimiter({ commands: deps.commands, keys: deps.keys, settings: options.rateLimit })
    : null;
  const agent = createGuardedAgent(policy);
  let closing: Promise<void> | null = null;
  return {
    webhookPolicy: policy,
    signingSecretGraceMs: options.signingSecretGraceMs ?? ENGINE_DEFAULTS.signingSecretGraceMs,
    apiKeys,
    auditLog: createAuditLog({ client: deps.client, keys: deps.keys, ...options.auditLog }),
    rateLimiter,
    /** The connection pool webhook deliveries go through: it refuses what the policy refuses. */
    agent,
    /** The create-time SSRF check, for the registry. */
    checkWebhookUrl: (field: string, url: string) => assertWebhookTarget(field, url, policy),
    ready: () => apiKeys.ready(),
    /** Call after the webhook workers have stopped: closes the pool their sockets live in. Idempotent. */
    close(): Promise<void> {
      closing ??= Promise.all([apiKeys.close(), agent.close()]).then(() => undefined);
      return closing;
    },
  };
}

export type Security = ReturnType<typeof createSecurity>;
