/**
 * The engine's vocabulary: record types, error codes, input checks, the event bus, defaults and units.
 * The folder's public face: other folders import it only through this file.
 */
export { ENGINE_DEFAULTS, LIMITS, PRIORITY, QUEUE_DEFAULTS } from './defaults.js';
export { badInput, conflict, ErrorCode, isRedisUnavailable, notFound, SwitchyardError } from './errors.js';
export {
  createEventBus,
  DELIVERY_EVENT_KINDS,
  type DeliveryEvent,
  type DeliveryEventKind,
  type EventBus,
  FAILED_ATTEMPT_KINDS,
} from './events.js';
export { createLosses, LOSS_REASONS, type Loss, type Losses, type LossReason } from './losses.js';
export {
  type ConsumerSpan,
  formatTraceparent,
  parseTraceparent,
  startConsumerSpan,
  TRACEPARENT,
  TRACER_NAME,
  TRACESTATE,
  type TracedDelivery,
  type TracedPublish,
  traceDelivery,
  tracePublish,
  tracePublishBatch,
} from './trace.js';
export {
  type AttemptRecord,
  BACKOFFS,
  DELIVERY_MODES,
  type DeliveryMode,
  FAILURE_REASONS,
  type FailureReason,
  HEADER_MATCHES,
  type HeaderMatch,
  type Headers,
  type MessageRecord,
  type PreviousSigningSecret,
  type QueueAlertThresholds,
  type QueueRecord,
  type RetryPolicy,
  TARGET_KINDS,
  type TargetKind,
  TOPIC_KINDS,
  type TopicHistorySettings,
  type TopicKind,
  type TopicRecord,
} from './types.js';
export { DAY, HOUR, KiB, MINUTE, MiB, SECOND } from './units.js';
export { assertInt, assertName, assertString, assertWebhookUrl, parseHeaders } from './validate.js';
