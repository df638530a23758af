import type { Context } from './context.js';

/** Admins only: the schema's scope (`admin`) refuses everyone else before this runs. */
export const auditLog = (args: { first?: number | null }, ctx: Context) =>
  ctx.engine.auditLog.list(args.first ?? 50);
