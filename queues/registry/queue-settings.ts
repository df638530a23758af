import {
  assertInt,
  assertString,
  assertWebhookUrl,
  badInput,
  DELIVERY_MODES,
  type DeliveryMode,
  type HeaderMatch,
  LIMITS,
  PRIORITY,
  type QueueAlertThresholds,
  type QueueRecord,
  type RetryPolicy,
  type TopicKind,
} from '../core/index.js';
import { validateBinding } from './router.js';

export interface QueueSettingsInput {
  bindingKey?: string | null;
  headers?: unknown;
  headerMatch?: HeaderMatch | null;
  url?: string | null;
  deliveryMode?: DeliveryMode | null;
  retry?: Partial<{ [K in keyof RetryPolicy]: RetryPolicy[K] | null }> | null;
  concurrency?: number | null;
  /**
   * WEBHOOK: a concurrency range, given together (on update, one alone moves that end of an existing
   * range); null for both makes the concurrency fixed again. See applyConcurrency.
   */
  minConcurrency?: number | null;
  maxConcurrency?: number | null;
  ackTimeoutMs?: number | null;
  /**
   * The queue's own alert thresholds: each field given replaces the stored one (null: back to the
   * gateway's setting); `alerts: null` on an update puts every one back to the gateway's setting.
   */
  alerts?: Partial<QueueAlertThresholds> | null;
}

/** Merges settings into a queue record and checks the result as a whole, so nothing half-valid is stored. */
export function applySettings(
  kind: TopicKind,
  current: QueueRecord,
  input: QueueSettingsInput,
  creating: boolean,
): QueueRecord {
  const next: QueueRecord = { ...current, retry: { ...current.retry } };
  if (input.bindingKey !== undefined) next.bindingKey = input.bindingKey;
  if (input.headers !== undefined) next.headers = input.headers as QueueRecord['headers'];
  if (input.headerMatch !== undefined) next.headerMatch = input.headerMatch;
  if (input.url !== undefined) next.url = input.url;
  if (input.deliveryMode != null) next.deliveryMode = input.deliveryMode;
  if (input.concurrency != null) next.concurrency = input.concurrency;
  if (input.ackTimeoutMs != null) next.ackTimeoutMs = input.ackTimeoutMs;
  const retry = input.retry ?? {};
  const retryGiven = retry.maxAttempts != null;
  if (retry.maxAttempts != null) next.retry.maxAttempts = retry.maxAttempts;
  if (retry.backoff != null) next.retry.backoff = retry.backoff;
  if (retry.delayMs != null) next.retry.delayMs = retry.delayMs;
  if (retry.maxDelayMs != null) next.retry.maxDelayMs = retry.maxDelayMs;
  if (retry.jitter != null) next.retry.jitter = retry.jitter;

  if (input.alerts !== undefined) next.alerts = alertThresholds(current.alerts, input.alerts);

  const bindingError = validateBinding(kind, next);
  if (bindingError) throw badInput(bindingError);
  if (!DELIVERY_MODES.includes(next.deliveryMode))
    throw badInput(`deliveryMode must be one of ${DELIVERY_MODES.join(', ')}`);
  if (next.deliveryMode === 'AT_MOST_ONCE') {
    // At-most-once means one attempt; a retry policy asking for more is a contradiction, not a preference.
    if (retryGiven && next.retry.maxAttempts > 1) {
      throw badInput('AT_MOST_ONCE queues make one attempt; retry.maxAttempts must be 1', {
        field: 'retry.maxAttempts',
      });
    }
    if (creating || !retryGiven) next.retry.maxAttempts = 1;
  }
  assertInt('retry.maxAttempts', next.retry.maxAttempts, 1, LIMITS.maxAttempts);
  assertInt('retry.delayMs', next.retry.delayMs, 0, LIMITS.retryDelayMs);
  assertInt('retry.maxDelayMs', next.retry.maxDelayMs, 0, LIMITS.retryDelayMs);
  if (next.retry.maxDelayMs < next.retry.delayMs) {
    throw badInput('retry.maxDelayMs must be at least retry.delayMs', { field: 'retry.maxDelayMs' });
  }
  assertInt('concurrency', next.concurrency, 1, LIMITS.concurrency);
  applyConcurrencyRange(current, next, input, creating);
  assertInt('ackTimeoutMs', next.ackTimeoutMs, LIMITS.ackTimeoutMs.min, LIMITS.ackTimeoutMs.max);
  assertInt('maxPriority', next.maxPriority, PRIORITY.min, PRIORITY.max);
  if (next.target === 'WEBHOOK') {
    if (!next.url) throw badInput('url is required for a WEBHOOK queue', { field: 'url' });
    assertWebhookUrl('url', next.url);
  } else if (next.url !== null) {
    throw badInput('url is only for WEBHOOK queues', { field: 'url' });
  }
  if (next.bindingKey !== null) assertString('bindingKey', next.bindingKey, LIMITS.routingKeyLength);
  return next;
}

/**
 * Sets or clears a queue's concurrency range. Both ends or neither; on an update one end alone moves
 * that end of the range the queue has. `concurrency` with a range is where each instance's worker
 * starts: a given value must lie within the range; left out, it is the range's minimum on create and
 * the stored value pulled into the range on update.
 */
function applyConcurrencyRange(
  current: QueueRecord,
  next: QueueRecord,
  input: QueueSettingsInput,
  creating: boolean,
): void {
  const stored = (value: number | undefined) => (creating ? null : (value ?? null));
  const min = input.minConcurrency !== undefined ? input.minConcurrency : stored(current.minConcurrency);
  const max = input.maxConcurrency !== undefined ? input.maxConcurrency : stored(current.maxConcurrency);
  if (min === null && max === null) {
    delete next.minConcurrency;
    delete next.maxConcurrency;
    return;
  }
  if (min === null || max === null) {
    const missing = min === null ? 'minConcurrency' : 'maxConcurrency';
    throw badInput(
      `A concurrency range needs both minConcurrency and maxConcurrency; ${missing} is missing`,
      {
        field: missing,
      },
    );
  }
  assertInt('minConcurrency', min, 1, LIMITS.concurrency);
  assertInt('maxConcurrency', max, 1, LIMITS.concurrency);
  if (min > max) {
    throw badInput(`minConcurrency (${min}) must be at most maxConcurrency (${max})`, {
      field: 'minConcurrency',
    });
  }
  if (next.target !== 'WEBHOOK') {
    throw badInput('Only WEBHOOK queues take a concurrency range: consumers pace CONSUMER queues', {
      field: 'minConcurrency',
    });
  }
  if (input.concurrency != null && (input.concurrency < min || input.concurrency > max)) {
    throw badInput(
      `concurrency (${input.concurrency}) must lie within minConcurrency..maxConcurrency (${min}..${max})`,
      {
        field: 'concurrency',
      },
    );
  }
  next.minConcurrency = min;
  next.maxConcurrency = max;
  if (input.concurrency == null)
    next.concurrency = creating ? min : Math.min(max, Math.max(min, next.concurrency));
}

/** GraphQL's Int, the widest a threshold can arrive as. */
const INT32_MAX = 2_147_483_647;

const NO_ALERT_THRESHOLDS: QueueAlertThresholds = {
  maxWaiting: null,
  maxLagMs: null,
  maxDeliveryLatencyMs: null,
  maxFailureRate: null,
  maxAttempts: null,
};

/** Merges and checks alert thresholds: counts and durations are integers of 0 or more, a rate is 0..1. */
function alertThresholds(
  current: QueueAlertThresholds | undefined,
  input: Partial<QueueAlertThresholds> | null,
): QueueAlertThresholds {
  if (input === null) return { ...NO_ALERT_THRESHOLDS };
  const next: QueueAlertThresholds = { ...NO_ALERT_THRESHOLDS, ...current };
  for (const field of ['maxWaiting', 'maxLagMs', 'maxDeliveryLatencyMs', 'maxAttempts'] as const) {
    const value = input[field];
    if (value === undefined) continue;
    if (value !== null) assertInt(`alerts.${field}`, value, 0, INT32_MAX);
    next[field] = value;
  }
  const rate = input.maxFailureRate;
  if (rate !== undefined) {
    if (rate !== null && !(Number.isFinite(rate) && rate >= 0 && rate <= 1)) {
      throw badInput(`alerts.maxFailureRate must be between 0 and 1, got ${rate}`, {
        field: 'alerts.maxFailureRate',
      });
    }
    next.maxFailureRate = rate;
  }
  return next;
}
