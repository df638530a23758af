import type { CreateQueueInput } from '../queues/registry/index.js';
import type { Context } from './context.js';

export const createQueue = (args: { input: CreateQueueInput }, ctx: Context) =>
  ctx.engine.createQueue(args.input);
