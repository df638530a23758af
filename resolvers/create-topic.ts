import type { CreateTopicInput } from '../queues/registry/index.js';
import type { Context } from './context.js';

export const createTopic = (args: { input: CreateTopicInput }, ctx: Context) =>
  ctx.engine.createTopic(args.input);
