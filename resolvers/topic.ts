import type { Context } from '../schema/builder.js';

/** null, not NOT_FOUND: the contract's `topic` is nullable so clients can ask whether a topic exists. */
export const topic = (args: { name: string }, ctx: Context) => ctx.engine.topic(args.name);
