import type { Context } from './context.js';

export const reply = (args: { deliveryId: string; payload: unknown; headers?: unknown }, ctx: Context) =>
  ctx.engine.reply(args.deliveryId, args.payload, args.headers ?? null);
