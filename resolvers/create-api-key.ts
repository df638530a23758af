import type { Context } from './context.js';

/** The secret is in this answer and nowhere else, ever. */
export const createApiKey = (args: { name: string; scopes: string[] }, ctx: Context) =>
  ctx.engine.apiKeys.create(args.name, args.scopes);
