/**
 * API keys, scopes, rate limits, the audit log and the webhook address guard.
 * The folder's public face: other folders import it only through this file.
 */
export type { ApiKey, ApiKeys, Caller, CreatedApiKey } from './api-keys.js';
export type { AuditEntry, AuditLog, AuditRecord } from './audit-log.js';
export type { RateLimiter } from './rate-limit.js';
export { can, compileScopes, type ScopeSet, TOPIC_ACTIONS, type TopicAction } from './scopes.js';
export { createSecurity, type SecurityOptions } from './security.js';
export { ADDRESS_REFUSED } from './webhook-guard.js';
