import type { Context } from '../schema/builder.js';

export const discardDeadLetter = (args: { id: string }, ctx: Context) =>
  ctx.engine.deadLetters.discard(args.id);
