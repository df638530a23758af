import type { Context } from './context.js';

/** null, not NOT_FOUND: the contract's `deadLetter` is nullable so clients can ask whether one exists. */
export const deadLetter = (args: { id: string }, ctx: Context) => ctx.engine.deadLetters.get(args.id);
