import type { Context } from '../schema/builder.js';

export const apiKeys = (_args: unknown, ctx: Context) => ctx.engine.apiKeys.list();
