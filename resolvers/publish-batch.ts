import type { PublishInput } from '../queues/publish/index.js';
import { callerName } from './caller-scopes.js';
import type { Context } from './context.js';

/** All or nothing: the engine refuses the whole batch if one input is refused, naming its index. */
export const publishBatch = (args: { inputs: PublishInput[] }, ctx: Context) => {
  const by = callerName(ctx);
  return ctx.engine.publishBatch(args.inputs.map((input) => ({ ...input, by })));
};
