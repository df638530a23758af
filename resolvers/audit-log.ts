import { ErrorCode, SwitchyardError } from '../queues/errors.js';
import type { Context } from '../schema/builder.js';

/**
 * Admins only. Checked here until the schema-wide scopes (plugin-scope-auth) take over; a yoga app
 * without the auth plugin (tests, embedding) has no `auth` and is trusted as its embedder is.
 */
export const auditLog = (args: { first?: number | null }, ctx: Context) => {
  if (ctx.auth && !ctx.auth.admin) {
    throw new SwitchyardError(ErrorCode.Forbidden, 'auditLog is for admin keys only');
  }
  return ctx.engine.auditLog.list(args.first ?? 50);
};
