import type { Context } from './context.js';

export const stats = (_args: unknown, ctx: Context) => ctx.engine.stats();
