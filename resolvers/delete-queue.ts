import type { Context } from '../schema/builder.js';

export const deleteQueue = (args: { topic: string; name: string }, ctx: Context) =>
  ctx.engine.deleteQueue(args.topic, args.name).then(() => true);
