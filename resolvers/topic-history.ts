import type { Context } from './context.js';

export const topicHistory = (
  args: { topic: string; from?: Date | null; after?: string | null; first?: number | null },
  ctx: Context,
) => ctx.engine.topicHistory(args.topic, { from: args.from, after: args.after }, args.first ?? undefined);
