import { canSeeTopic } from './caller-scopes.js';
import type { Context } from './context.js';

/**
 * null, not NOT_FOUND: the contract's `topic` is nullable so clients can ask whether a topic exists.
 * A topic the caller cannot see answers null too, so its existence cannot be probed.
 */
export const topic = (args: { name: string }, ctx: Context) =>
  canSeeTopic(ctx, args.name) ? ctx.engine.topic(args.name) : null;
