import type { Caller } from '../queues/api-keys.js';
import { compileScopes, type ScopeSet, TOPIC_ACTIONS } from '../queues/scopes.js';
import type { Context } from '../schema/builder.js';

const ADMIN = compileScopes(['admin']);
const NOTHING = compileScopes([]);
/** Keyed by the caller, which use-auth.ts creates per request: parsed once, never shared between callers. */
const compiled = new WeakMap<Caller, ScopeSet>();

/**
 * Whether anyone was authenticated for this request: use-auth.ts set `ctx.auth`, or the yoga app was
 * built without authentication on purpose (`authDisabled`, tests and embedding). A gateway always has
 * useAuth, so a missing `auth` there means something skipped it, and nothing is granted.
 */
export const isAuthenticated = (ctx: Context): boolean => ctx.auth !== undefined || ctx.authDisabled;

/** The caller's scopes, parsed once per request. Without a caller: admin only when auth is disabled. */
export function scopesOf(ctx: Context): ScopeSet {
  const { auth } = ctx;
  if (!auth) return ctx.authDisabled ? ADMIN : NOTHING;
  let scopes = compiled.get(auth);
  if (!scopes) {
    scopes = compileScopes(auth.scopes);
    compiled.set(auth, scopes);
  }
  return scopes;
}

/**
 * Whether the caller may know that a topic exists: it can act on it in some way (a topic scope whose
 * pattern matches it), or it reads the cluster's counters (`stats`), which name every queue anyway.
 */
export function canSeeTopic(ctx: Context, topic: string): boolean {
  const scopes = scopesOf(ctx);
  return scopes.can('stats') || TOPIC_ACTIONS.some((action) => scopes.can(action, topic));
}
