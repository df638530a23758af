import type { CreateQueueInput } from '../queues/registry.js';
import type { Context } from '../schema/builder.js';

export const createQueue = (args: { input: CreateQueueInput }, ctx: Context) =>
  ctx.engine.createQueue(args.input);
