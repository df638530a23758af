import type { Context } from '../schema/builder.js';

export const resetCircuit = (args: { topic: string; name: string }, ctx: Context) =>
  ctx.engine.resetCircuit(args.topic, args.name);
