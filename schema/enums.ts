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

// The engine's vocabulary is the contract's, so each enum is its list of strings, value for value.

export const TopicKind = builder.enumType('TopicKind', { values: TOPIC_KINDS });
export const HeaderMatch = builder.enumType('HeaderMatch', { values: HEADER_MATCHES });
export const TargetKind = builder.enumType('TargetKind', { values: TARGET_KINDS });
export const DeliveryMode = builder.enumType('DeliveryMode', { values: DELIVERY_MODES });
export const Backoff = builder.enumType('Backoff', { values: BACKOFFS });
export const FailureReason = builder.enumType('FailureReason', { values: FAILURE_REASONS });
export const DeliveryEventKind = builder.enumType('DeliveryEventKind', { values: DELIVERY_EVENT_KINDS });
