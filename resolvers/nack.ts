import type { FailureReason } from '../queues/core/index.js';
import type { Context } from './context.js';

interface NackArgs {
  deliveryId: string;
  reason?: FailureReason | null;
  error?: string | null;
  retryAfterMs?: number | null;
}

export const nack = (args: NackArgs, ctx: Context) =>
  ctx.engine.nack(args.deliveryId, args.reason ?? null, args.error ?? null, args.retryAfterMs ?? null);
