import type { Context } from '../schema/builder.js';

export const ack = (args: { deliveryId: string }, ctx: Context) => ctx.engine.ack(args.deliveryId);
