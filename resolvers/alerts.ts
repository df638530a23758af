import type { Context } from '../schema/builder.js';

export const alerts = (_args: unknown, ctx: Context) => ctx.engine.alerts();
