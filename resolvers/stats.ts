import type { Context } from '../schema/builder.js';

export const stats = (_args: unknown, ctx: Context) => ctx.engine.stats();
