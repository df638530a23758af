import type { Context } from './context.js';

export const apiKeys = (_args: unknown, ctx: Context) => ctx.engine.apiKeys.list();
