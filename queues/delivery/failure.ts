import { UnrecoverableError } from 'bullmq';
import type { FailureReason } from '../core/index.js';

/**
 * A failed delivery attempt that BullMQ may retry. Its message starts with the reason so the
 * failed set (what bull-board shows) tells why without our index.
 */
export class DeliveryFailure extends Error {
  override readonly name = 'DeliveryFailure';
  constructor(
    readonly reason: FailureReason,
    readonly detail: string,
    /** The receiver asked to be left alone this long (Retry-After), or a consumer's nack did. */
    readonly retryAfterMs: number | null = null,
    /** True when retryAfterMs is the exact delay (a consumer's nack), not a lower bound (Retry-After). */
    readonly exactDelay = false,
  ) {
    super(`${reason}: ${detail}`);
  }
}

/** A failed attempt that must not be retried (BullMQ skips retries for UnrecoverableError by name). */
export class FinalDeliveryFailure extends UnrecoverableError {
  readonly reason: FailureReason;
  readonly detail: string;
  constructor(reason: FailureReason, detail: string) {
    super(`${reason}: ${detail}`);
    this.reason = reason;
    this.detail = detail;
  }
}

export const deliveryFailure = (
  reason: FailureReason,
  detail: string,
  retryable: boolean,
  retryAfterMs?: number | null,
) =>
  retryable
    ? new DeliveryFailure(reason, detail, retryAfterMs ?? null)
    : new FinalDeliveryFailure(reason, detail);
