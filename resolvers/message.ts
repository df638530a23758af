import type { Context } from './context.js';

/** null, not NOT_FOUND, for a message gone: the contract's `message` is nullable. */
export const message = (args: { topic: string; id: string }, ctx: Context) =>
  ctx.engine.message(args.topic, args.id);
