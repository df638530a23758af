import type { Context } from './context.js';

export const pauseQueue = (args: { topic: string; name: string }, ctx: Context) =>
  ctx.engine.pauseQueue(args.topic, args.name);
