import type { Context } from './context.js';

/** Subscription.alerts: every FIRING and RESOLVED from now on, from whichever instance announced it. */
export const alertsSubscription = (_args: unknown, ctx: Context) => ctx.engine.alertsStream();
