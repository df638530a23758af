import type { Context } from '../schema/builder.js';

export const topics = (_args: unknown, ctx: Context) => ctx.engine.topics();
