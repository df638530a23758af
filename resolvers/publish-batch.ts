import type { PublishInput } from '../queues/publish/index.js';
import type { Context } from './context.js';

/** All or nothing: the engine refuses the whole batch if one input is refused, naming its index. */
export const publishBatch = (args: { inputs: PublishInput[] }, ctx: Context) =>
  ctx.engine.publishBatch(args.inputs);
