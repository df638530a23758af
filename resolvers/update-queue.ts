import type { QueueSettingsInput } from '../queues/registry/index.js';
import type { Context } from './context.js';

export const updateQueue = (args: { topic: string; name: string; input: QueueSettingsInput }, ctx: Context) =>
  ctx.engine.updateQueue(args.topic, args.name, args.input);
