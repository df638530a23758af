import type { Context } from './context.js';

export const deleteQueue = (args: { topic: string; name: string }, ctx: Context) =>
  ctx.engine.deleteQueue(args.topic, args.name).then(() => true);
