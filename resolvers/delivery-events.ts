import type { Context } from './context.js';

export const deliveryEvents = (args: { topic?: string | null; queue?: string | null }, ctx: Context) =>
  ctx.engine.deliveryEvents(args);
