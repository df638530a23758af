/**
 * Delivery: webhook workers, CONSUMER queues (receive, ack/nack, consume), retries, circuits,
 * attempt history.
 * The folder's public face: other folders import it only through this file.
 */

export { attemptsSinceReplay, parseAttemptLog, reasonOf, STALLED_OUT } from './attempt-history.js';
export {
  AUTOSCALE_DEFAULTS,
  type AutoscaleSettings,
  type BacklogSample,
  concurrencyRange,
  nextScale,
} from './autoscaler.js';
export {
  CIRCUIT_DEFAULTS,
  type CircuitOptions,
  type CircuitState,
  type CircuitStateName,
  createCircuitBreaker,
} from './circuit-breaker.js';
export { createConsumers, type Delivery, decodeDeliveryId } from './consumer.js';
export { createConsumerPush } from './consumer-push.js';
export { createRedactor, DEFAULT_REDACTED_HEADERS, type Redact } from './redaction.js';
export {
  createReplySender,
  createRequests,
  MAX_REQUEST_TIMEOUT_MS,
  type Reply,
  type ReplyDropReason,
  type ReplySender,
  type Requests,
} from './request-reply.js';
export { postWebhook } from './webhook-http.js';
export { createWebhookWorkers, type WebhookWorkers } from './webhook-worker.js';
