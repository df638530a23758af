import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { Context } from '../resolvers/context.js';
import { type AuthScopes, authScopes, unauthorizedError } from './auth-scopes.js';
import { mapErrorsPlugin } from './map-errors-plugin.js';

export type { Context };

/**
 * The one Pothos builder. Fields are non-null unless they say `nullable: true`, arguments and input
 * fields are optional unless they say `required: true`, as in API.graphql.
 *
 * mapErrors comes first, so it wraps scope-auth too: refusals thrown while checking scopes (a malformed
 * dead-letter id, say) get their contract code like any resolver's. scope-auth still runs before every
 * resolver, so a refused field never reaches the engine.
 */
export const builder = new SchemaBuilder<{
  Context: Context;
  AuthScopes: AuthScopes;
  Scalars: {
    /**
     * Any JSON value; payloads and header maps travel as they are. Input is never undefined (GraphQL
     * hands null for a nullable field), which lets `payload: JSON!` be a required property in resolvers.
     */
    JSON: { Input: NonNullable<unknown>; Output: unknown };
    /** ISO-8601 on the wire; the engine stores ISO strings, so both are accepted on the way out. */
    DateTime: { Input: Date; Output: Date | string };
  };
  DefaultFieldNullability: false;
}>({
  plugins: [mapErrorsPlugin, ScopeAuthPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes,
    unauthorizedError,
    // Subscriptions are checked once when they start (over HTTP, SSE and websockets alike), not per event.
    authorizeOnSubscribe: true,
  },
});

// Every root field needs an authenticated caller, whatever its own scopes say: a field added without
// scopes is still closed to a request that skipped authentication.
builder.queryType({
  description:
    'Reads. Every field needs an authenticated caller: an API key (authorization: Bearer <key>), or a ' +
    'loopback client while SWITCHYARD_ADMIN_KEY is unset (served as admin). Fields say which scope they need besides.',
  authScopes: { caller: true },
});
builder.mutationType({
  description:
    'Changes. Every field needs an authenticated caller, as Query does; admin mutations are written to the audit log.',
  authScopes: { caller: true },
});
builder.subscriptionType({
  description:
    'Live streams, over websockets (graphql-ws) or Server-Sent Events on the same endpoint; scopes are checked ' +
    'once, when a stream starts (docs/PROTOCOL.md).',
  authScopes: { caller: true },
});
