import type { Context } from '../schema/builder.js';

export const deleteTopic = (args: { name: string }, ctx: Context) =>
  ctx.engine.deleteTopic(args.name).then(() => true);
