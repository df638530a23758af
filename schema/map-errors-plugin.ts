import SchemaBuilder, { BasePlugin, type SchemaTypes } from '@pothos/core';
import type { GraphQLFieldResolver } from 'graphql';
import { toGraphQLError } from './errors.js';

/**
 * Turns engine refusals into GraphQL errors where they are thrown, in the resolver. yoga's masking
 * keeps an error only when it already is a GraphQLError; mapping later, in maskError, would work too
 * but makes yoga log every refused request (a 404, a bad name) as a server error.
 */
class MapErrorsPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    return mapped(resolver);
  }

  override wrapSubscribe(
    subscribe: GraphQLFieldResolver<unknown, Types['Context'], object> | undefined,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> | undefined {
    if (!subscribe) return undefined;
    const subscribeMapped = mapped(subscribe);
    // A live stream can also fail after it started (its queue deleted, say): map those errors too.
    return (parent, args, context, info) => {
      const result: unknown = subscribeMapped(parent, args, context, info);
      return result instanceof Promise ? result.then(mappedStream) : mappedStream(result);
    };
  }
}

const rethrow = (error: unknown): never => {
  throw toGraphQLError(error) ?? error;
};

/** The stream with every error its next() throws mapped like a resolver's; other values pass as they are. */
function mappedStream(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || !(Symbol.asyncIterator in value)) return value;
  const source = (value as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const stream: AsyncIterableIterator<unknown> = {
    next: () => source.next().catch(rethrow),
    return: () => source.return?.() ?? Promise.resolve({ value: undefined, done: true }),
    throw: (error?: unknown) => source.throw?.(error) ?? Promise.reject(error),
    [Symbol.asyncIterator]: () => stream,
  };
  return stream;
}

/** Keeps a synchronous resolver synchronous: most fields here just read a property. */
function mapped<Context>(
  resolver: GraphQLFieldResolver<unknown, Context, object>,
): GraphQLFieldResolver<unknown, Context, object> {
  return (parent, args, context, info) => {
    try {
      const result: unknown = resolver(parent, args, context, info);
      return result instanceof Promise ? result.catch(rethrow) : result;
    } catch (error) {
      return rethrow(error);
    }
  };
}

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      mapErrors: MapErrorsPlugin<Types>;
    }
  }
}

export const mapErrorsPlugin = 'mapErrors' as const;

SchemaBuilder.registerPlugin(mapErrorsPlugin, MapErrorsPlugin);
