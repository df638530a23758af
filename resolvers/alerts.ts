import type { Context } from './context.js';

export const alerts = (_args: unknown, ctx: Context) => ctx.engine.alerts();
