import type { FailureReason } from './types.js';

export const DELIVERY_EVENT_KINDS = [
  'PUBLISHED',
  'DELIVERED',
  'FAILED',
  'RETRYING',
  'DEAD_LETTERED',
  'REPLAYED',
  'DISCARDED',
  'EXPIRED',
] as const;
export type DeliveryEventKind = (typeof DELIVERY_EVENT_KINDS)[number];

/**
 * Every failed attempt emits exactly one of these kinds (stats count them as `failedPerSecond`):
 * emit RETRYING, DEAD_LETTERED or EXPIRED for an attempt, not FAILED as well.
 */
export const FAILED_ATTEMPT_KINDS: readonly DeliveryEventKind[] = [
  'FAILED',
  'RETRYING',
  'DEAD_LETTERED',
  'EXPIRED',
];

export interface DeliveryEvent {
  kind: DeliveryEventKind;
  at: string;
  topic: string;
  queue: string | null;
  messageId: string;
  attempt: number | null;
  reason: FailureReason | null;
  error: string | null;
  /** Publish-to-delivery time, on DELIVERED only (feeds latency percentiles). */
  latencyMs?: number;
}

export type DeliveryEventListener = (event: DeliveryEvent) => void;

/** In-process fan-out of delivery events. A listener that throws is isolated from the others. */
export function createEventBus() {
  const listeners = new Set<DeliveryEventListener>();
  return {
    emit(event: DeliveryEvent): void {
      for (const listener of listeners) {
        try {
          listener(event);
        } catch {
          // A broken listener must never break delivery.
        }
      }
    },
    on(listener: DeliveryEventListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get size() {
      return listeners.size;
    },
  };
}

export type EventBus = ReturnType<typeof createEventBus>;
