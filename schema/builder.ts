import SchemaBuilder from '@pothos/core';
import type { Caller } from '../queues/api-keys.js';
import type { Engine } from '../queues/engine.js';
import { mapErrorsPlugin } from './map-errors-plugin.js';

/** What every resolver receives; built once per gateway by createYogaApp, shared by every request. */
export interface Context {
  engine: Engine;
  /** Answered by `health.version`. */
  version: string;
  /** Process start time in epoch ms; `health.uptimeSeconds` counts from it. */
  startedAt: number;
  /** Who is calling, per request (server/use-auth.ts); absent when the yoga app runs without auth. */
  auth?: Caller;
}

/**
 * The one Pothos builder. Fields are non-null unless they say `nullable: true`, arguments and input
 * fields are optional unless they say `required: true`, as in API.graphql.
 */
export const builder = new SchemaBuilder<{
  Context: Context;
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
}>({ plugins: [mapErrorsPlugin], defaultFieldNullability: false });

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
