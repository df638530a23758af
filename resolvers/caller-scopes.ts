import { compileScopes, type ScopeSet, TOPIC_ACTIONS } from '../queues/security/index.js';
import type { Context } from './context.js';

const ADMIN = compileScopes(['admin']);
const NOTHING = compileScopes([]);
/** Callers are new objects per request, but keys are few: parse each distinct scope list once. */
const compiled = new Map<string, ScopeSet>();
/** More distinct scope lists than this and the cache starts over, so a flood of keys cannot grow it. */
const MAX_COMPILED = 1000;

/**
 * Whether anyone was authenticated for this request: use-auth.ts set `ctx.auth`, or the yoga app was
 * built without authentication on purpose (`authDisabled`, tests and embedding). A gateway always has
 * useAuth, so a missing `auth` there means something skipped it, and nothing is granted.
 */
export const isAuthenticated = (ctx: Context): boolean => ctx.auth !== undefined || ctx.authDisabled;

/** The caller's scopes, parsed once per distinct list. Without a caller: admin only when auth is disabled. */
export function scopesOf(ctx: Context): ScopeSet {
  const { auth } = ctx;
  if (!auth) return ctx.authDisabled ? ADMIN : NOTHING;
  if (auth.admin) return ADMIN;
  // Scopes never hold a newline (queues/security/scopes.ts), so the joined list identifies it.
  const id = auth.scopes.join('\n');
  let scopes = compiled.get(id);
  if (!scopes) {
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    scopes = compileScopes(auth.scopes);
    compiled.set(id, scopes);
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

/** Who is calling, as a provenance trail records it: the API key's name (the admin key's too); null when keyless. */
export const callerName = (ctx: Context): string | null => ctx.auth?.key?.name ?? null;
