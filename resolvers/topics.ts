import { canSeeTopic } from './caller-scopes.js';
import type { Context } from './context.js';

/** Only the topics the caller can see: a key does not learn the names of topics it has no part in. */
export const topics = async (_args: unknown, ctx: Context) =>
  (await ctx.engine.topics()).filter((topic) => canSeeTopic(ctx, topic.name));
