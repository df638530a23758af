/**
 * What the schema's `authScopes` mean, for @pothos/plugin-scope-auth: one loader per scope of
 * queues/security/scopes.ts, built once per request from the caller's scopes, and the refusal each failure
 * answers. The scope table itself is in docs/SECURITY.md; the fields carry their scopes where they
 * are defined.
 */
import { type AuthFailure, AuthScopeFailureType, type ForbiddenResult } from '@pothos/plugin-scope-auth';
import type { GraphQLResolveInfo } from 'graphql';
import { ErrorCode, SwitchyardError } from '../queues/core/index.js';
import type { ScopeSet, TopicAction } from '../queues/security/index.js';
import { isAuthenticated, scopesOf } from '../resolvers/caller-scopes.js';
import type { Context } from '../resolvers/context.js';

/**
 * Asked without a topic: the action on every topic (deliveryEvents of all topics, dead letters without
 * a topic filter), which only a `#` pattern or admin grants. Topic names never hold `#`.
 */
export const EVERY_TOPIC = '#';

/** The topics an action is asked on: a name, several names (each one needed), or {@link EVERY_TOPIC}. */
export type TopicTarget = string | readonly string[];

/** The scopes fields can ask for; the topic actions take the topics they act on. */
export interface AuthScopes {
  /** Anyone authenticated: every root field asks for it (see builder.ts). */
  caller: boolean;
  admin: boolean;
  stats: boolean;
  publish: TopicTarget;
  consume: TopicTarget;
  subscribe: TopicTarget;
  'deadletters:read': TopicTarget;
  'deadletters:write': TopicTarget;
}

type ScopeLoaders = {
  [K in keyof AuthScopes]: boolean | ((target: AuthScopes[K]) => boolean);
};

const topicsOf = (target: TopicTarget): readonly string[] => (typeof target === 'string' ? [target] : target);

/** The loaders of one scope set, for an authenticated caller or not. */
function loadersOf(scopes: ScopeSet, caller: boolean): ScopeLoaders {
  const allows = (action: TopicAction, topic: string) =>
    topic === EVERY_TOPIC ? scopes.can(action) : scopes.can(action, topic);
  const loader = (action: TopicAction) => (target: TopicTarget) =>
    typeof target === 'string' ? allows(action, target) : target.every((topic) => allows(action, topic));
  return {
    caller,
    admin: scopes.admin,
    stats: scopes.can('stats'),
    publish: loader('publish'),
    consume: loader('consume'),
    subscribe: loader('subscribe'),
    'deadletters:read': loader('deadletters:read'),
    'deadletters:write': loader('deadletters:write'),
  };
}

/**
 * The loaders already made, by scope set (scopesOf keeps one per distinct scope list) and by whether
 * the caller was authenticated: the loaders read nothing else of the request, so each request of the
 * same caller gets the same ones instead of eight closures and an object of its own.
 */
const made = [new WeakMap<ScopeSet, ScopeLoaders>(), new WeakMap<ScopeSet, ScopeLoaders>()] as const;

/** The scope initializer: run once per request, the first time a field asks for a scope. */
export function authScopes(ctx: Context): ScopeLoaders {
  const scopes = scopesOf(ctx);
  const caller = isAuthenticated(ctx);
  const byScopes = made[caller ? 1 : 0];
  let loaders = byScopes.get(scopes);
  if (!loaders) {
    loaders = loadersOf(scopes, caller);
    byScopes.set(scopes, loaders);
  }
  return loaders;
}

interface Missing {
  scope: string;
  parameter: unknown;
}

/** The scopes a failure says were missing, in the order the field asked for them. */
function missingScopes(failure: AuthFailure): Missing[] {
  if (failure.kind === AuthScopeFailureType.AuthScope)
    return [{ scope: failure.scope, parameter: failure.parameter }];
  if (
    failure.kind === AuthScopeFailureType.AnyAuthScopes ||
    failure.kind === AuthScopeFailureType.AllAuthScopes
  ) {
    return failure.failures.flatMap(missingScopes);
  }
  return [];
}

/** What would have granted the field, as a reader of docs/SECURITY.md writes scopes. */
function describe(missing: Missing, ctx: Context): { needs: string; requiredScope: string } {
  const { scope, parameter } = missing;
  if (scope === 'admin') return { needs: 'the scope admin', requiredScope: 'admin' };
  if (scope === 'stats') return { needs: 'the scope stats or admin', requiredScope: 'stats' };
  const action = scope as TopicAction;
  const targets = typeof parameter === 'string' || Array.isArray(parameter) ? topicsOf(parameter) : [];
  // With several topics (publishBatch), name the first one the key cannot act on.
  const scopes = scopesOf(ctx);
  const topic =
    targets.find((candidate) => candidate !== EVERY_TOPIC && !scopes.can(action, candidate)) ??
    (targets.includes(EVERY_TOPIC) ? EVERY_TOPIC : targets[0]);
  if (topic === undefined || topic === EVERY_TOPIC) {
    return {
      needs: `the scope ${action}:# (every topic) or admin`,
      requiredScope: `${action}:${EVERY_TOPIC}`,
    };
  }
  return {
    needs: `a scope ${action}:<pattern> matching topic "${topic}" (such as ${action}:${topic}) or admin`,
    requiredScope: `${action}:${topic}`,
  };
}

/**
 * The error of a field the caller may not resolve: UNAUTHENTICATED when nobody was authenticated,
 * else FORBIDDEN naming the scope that would have granted it (also in `extensions.requiredScope`).
 * Thrown before the resolver runs, so a refused field changes nothing.
 */
export function unauthorizedError(
  _parent: unknown,
  ctx: Context,
  info: GraphQLResolveInfo,
  result: ForbiddenResult,
): Error {
  const field = `${info.parentType.name}.${info.fieldName}`;
  if (!isAuthenticated(ctx)) {
    return new SwitchyardError(
      ErrorCode.Unauthenticated,
      `${field} needs an authenticated caller, and this request has none`,
    );
  }
  const [missing] = missingScopes(result.failure).filter((entry) => entry.scope !== 'caller');
  if (!missing) return new SwitchyardError(ErrorCode.Forbidden, `Forbidden: ${field} is not allowed`);
  const { needs, requiredScope } = describe(missing, ctx);
  return new SwitchyardError(ErrorCode.Forbidden, `Forbidden: ${field} needs ${needs}`, { requiredScope });
}
