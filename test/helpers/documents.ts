/**
 * Typed documents for the tests' GraphQL helpers. `npm run codegen` writes them from the
 * operations.graphql files under test/ (test/generated/graphql.ts) and from the client's and the
 * dashboard's operations (client/generated/graphql.ts): each carries its text and, in its type, its
 * answer and variables, so what a test expects of an answer is checked against schema.graphql.
 */
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';

/** An object, so a string written by hand is no TypedDocument; its toString() is the operation's text. */
export type TypedDocument<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> & object;

/** An operation's variables argument: optional when the operation needs none. */
export type VariablesArg<V> = Record<string, never> extends V ? [variables?: V] : [variables: V];
