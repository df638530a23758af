import type { Context } from './context.js';

export const deleteTopic = (args: { name: string }, ctx: Context) =>
  ctx.engine.deleteTopic(args.name).then(() => true);
