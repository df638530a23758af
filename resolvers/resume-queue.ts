import type { Context } from '../schema/builder.js';

export const resumeQueue = (args: { topic: string; name: string }, ctx: Context) =>
  ctx.engine.resumeQueue(args.topic, args.name);
