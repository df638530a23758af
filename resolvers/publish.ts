import type { PublishInput } from '../queues/publish/index.js';
import type { Context } from './context.js';

export const publish = (args: { input: PublishInput }, ctx: Context) => ctx.engine.publish(args.input);
