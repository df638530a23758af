import type { Context } from './context.js';

/** An explicit null for `prefetch` means the default, as leaving it out does. */
export const consume = (args: { topic: string; queue: string; prefetch?: number | null }, ctx: Context) =>
  ctx.engine.consume(args.topic, args.queue, args.prefetch ?? undefined);
