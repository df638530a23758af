import { canSeeTopic } from './caller-scopes.js';
import type { Context } from './context.js';

/**
 * null, not NOT_FOUND: the contract's `queue` is nullable so clients can ask whether a queue exists.
 * A queue of a topic the caller cannot see answers null too.
 */
export const queue = (args: { topic: string; name: string }, ctx: Context) =>
  canSeeTopic(ctx, args.topic) ? ctx.engine.queue(args.topic, args.name) : null;
