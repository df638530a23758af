import {
  BACKOFFS,
  DELIVERY_EVENT_KINDS,
  DELIVERY_MODES,
  FAILURE_REASONS,
  HEADER_MATCHES,
  TARGET_KINDS,
  TOPIC_KINDS,
} from '../queues/core/index.js';
import { builder } from './builder.js';

/**
 * An engine list of enum values, each with its description, in the engine's order. The descriptions
 * are a Record over the list, so a value added to the engine without one fails the type check.
 */
export function describeValues<const V extends string>(
  values: readonly V[],
  descriptions: Record<V, string>,
): Record<V, { description: string }> {
  return Object.fromEntries(values.map((value) => [value, { description: descriptions[value] }])) as Record<
    V,
    { description: string }
  >;
}

// The engine's vocabulary is the contract's, so each enum is its list of strings, value for value.

export const TopicKind = builder.enumType('TopicKind', {
  description: "How a topic routes a message to its queues (RabbitMQ's exchange types).",
  values: describeValues(TOPIC_KINDS, {
    FANOUT: 'Every queue of the topic gets every message; queues take no bindingKey or headers.',
    DIRECT: 'A queue gets the messages whose routingKey equals its bindingKey exactly.',
    TOPIC:
      'A queue gets the messages whose routingKey matches its bindingKey pattern: words split on ".", ' +
      '* matches exactly one word, # zero or more (AMQP rules).',
    HEADERS: 'A queue gets the messages whose headers match its headers, all or any of them (headerMatch).',
  }),
});

export const HeaderMatch = builder.enumType('HeaderMatch', {
  description: 'How the headers of a HEADERS binding (or of a live-tail filter) must match a message.',
  values: describeValues(HEADER_MATCHES, {
    ALL: 'Every listed header must be present with the same value (the default). Matches every message when none is listed.',
    ANY: 'At least one listed header must be present with the same value. Matches nothing when none is listed.',
  }),
});

export const TargetKind = builder.enumType('TargetKind', {
  description: 'Where a queue delivers its messages.',
  values: describeValues(TARGET_KINDS, {
    WEBHOOK:
      "POSTed to the queue's url, signed with Standard Webhooks headers; a 2xx answer delivers it (docs/DELIVERY.md).",
    CONSUMER: 'Taken by clients with Mutation.receive or Subscription.consume, and settled with ack or nack.',
  }),
});

export const DeliveryMode = builder.enumType('DeliveryMode', {
  description: 'What a queue promises about how often its target sees a message (docs/DELIVERY.md).',
  values: describeValues(DELIVERY_MODES, {
    AT_LEAST_ONCE:
      'The default. One or more times: retried under the retry policy until delivered or maxAttempts is spent, then kept as a dead letter.',
    AT_MOST_ONCE:
      'Zero or one time: one attempt, never retried (retry.maxAttempts must be 1); a failure is kept as a dead letter.',
    EXACTLY_ONCE:
      'Effectively once: every publish routed here must carry an idempotencyKey (a repeat within the dedup window, ' +
      'default 24 h, is not enqueued again), and every attempt carries the same message id to dedupe on. Retried as AT_LEAST_ONCE.',
  }),
});

export const Backoff = builder.enumType('Backoff', {
  description: 'How the wait before a retry grows with the failures of a message.',
  values: describeValues(BACKOFFS, {
    FIXED: 'delayMs before every retry.',
    EXPONENTIAL: 'The default. delayMs × 2^(n−1) after the n-th failure, capped at maxDelayMs.',
  }),
});

export const FailureReason = builder.enumType('FailureReason', {
  description: 'Why a delivery attempt failed, as recorded in its attempt history and delivery events.',
  values: describeValues(FAILURE_REASONS, {
    VALIDATION:
      'A consumer nacked the message with reason VALIDATION (it is invalid): dead-lettered at once, never retried.',
    PROCESSING:
      'The target failed to process it (a webhook 5xx or 429, or a consumer nack without a reason): retried.',
    TIMEOUT: 'No answer within ackTimeoutMs (or a webhook 408): retried.',
    DEPENDENCY: 'The webhook could not be reached (connection refused or reset, DNS failure): retried.',
    REJECTED:
      'The target refused it for good (a webhook 3xx or 4xx other than 408 and 429, or a consumer nack with REJECTED): dead-lettered at once.',
    EXPIRED: 'Its ttlMs had passed when its turn came: never delivered, dead-lettered.',
    CIRCUIT_OPEN:
      "A FAILED delivery event only: the webhook endpoint's circuit breaker opened after failures in a row, and deliveries are held back.",
    UNKNOWN: 'A failure the gateway could not classify.',
  }),
});

export const DeliveryEventKind = builder.enumType('DeliveryEventKind', {
  description: 'What happened to a message, as Subscription.deliveryEvents reports it.',
  values: describeValues(DELIVERY_EVENT_KINDS, {
    PUBLISHED: 'Accepted by a publish and stored in every queue it matched (queue is null).',
    DELIVERED: 'Delivered: a webhook answered 2xx, or a consumer acked it.',
    FAILED:
      "A webhook endpoint's circuit breaker opened (reason CIRCUIT_OPEN), after the failure of this message; error says until when.",
    RETRYING: 'An attempt failed and the message will be retried under the retry policy.',
    DEAD_LETTERED: 'An attempt failed for good: the message is now a dead letter.',
    REPLAYED: 'A dead letter was put back into a queue by replayDeadLetter(s).',
    DISCARDED: 'A dead letter was removed by discardDeadLetter(s) or the retention sweep.',
    EXPIRED: 'The message reached its turn after its ttlMs and became a dead letter with reason EXPIRED.',
  }),
});
