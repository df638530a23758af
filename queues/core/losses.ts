/**
 * Messages that were accepted but will reach no target, on paths that do not dead-letter them: a
 * publish that matched no queue, the messages of a deleted queue, and what a live stream dropped for
 * a subscriber that read too slowly (at-most-once by design). Everything else that is not delivered
 * becomes a dead letter. The metrics count these (switchyard_messages_not_delivered_total), so that
 * no message goes undelivered without a trace (docs/RELIABILITY.md).
 */
export const LOSS_REASONS = ['unrouted', 'queue_deleted', 'live_dropped'] as const;
export type LossReason = (typeof LOSS_REASONS)[number];

export interface Loss {
  topic: string;
  /** The queue it was in; null where it was in none (unrouted) or in a live stream. */
  queue: string | null;
  reason: LossReason;
  count: number;
}

export type LossListener = (loss: Loss) => void;

/** In-process fan-out of losses, like the event bus; a listener that throws is isolated. */
export function createLosses() {
  const listeners = new Set<LossListener>();
  return {
    count(topic: string, queue: string | null, reason: LossReason, count = 1): void {
      if (count <= 0) return;
      for (const listener of listeners) {
        try {
          listener({ topic, queue, reason, count });
        } catch {
          // Counting must never break the path that lost the message.
        }
      }
    },
    on(listener: LossListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export type Losses = ReturnType<typeof createLosses>;
