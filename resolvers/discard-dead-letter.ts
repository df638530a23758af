import type { Context } from './context.js';

export const discardDeadLetter = (args: { id: string }, ctx: Context) =>
  ctx.engine.deadLetters.discard(args.id);
