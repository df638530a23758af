import type { Context } from './context.js';

export const resumeQueue = (args: { topic: string; name: string }, ctx: Context) =>
  ctx.engine.resumeQueue(args.topic, args.name);
