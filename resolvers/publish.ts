import type { PublishInput } from '../queues/publish/index.js';
import { callerName } from './caller-scopes.js';
import type { Context } from './context.js';

/** `by` comes from the caller, never from the input: the trail names who published. */
export const publish = (args: { input: PublishInput }, ctx: Context) =>
  ctx.engine.publish({ ...args.input, by: callerName(ctx) });
