import type { Context } from './context.js';

export const ack = (args: { deliveryId: string }, ctx: Context) => ctx.engine.ack(args.deliveryId);
