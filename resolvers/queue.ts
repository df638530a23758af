import type { Context } from '../schema/builder.js';

/** null, not NOT_FOUND: the contract's `queue` is nullable so clients can ask whether a queue exists. */
export const queue = (args: { topic: string; name: string }, ctx: Context) =>
  ctx.engine.queue(args.topic, args.name);
