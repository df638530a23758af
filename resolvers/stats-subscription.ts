import type { Context } from './context.js';

/** Subscription.stats; an explicit null for `intervalMs` means the default, as leaving it out does. */
export const statsSubscription = (args: { intervalMs?: number | null }, ctx: Context) =>
  ctx.engine.statsStream(args.intervalMs ?? 1000);
