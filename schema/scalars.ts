import { GraphQLError, Kind, print, valueFromASTUntyped } from 'graphql';
import { builder } from './builder.js';

// graphql-js answers a null itself and never hands one to a scalar parser; this says so to the types.
function present(value: unknown): NonNullable<unknown> {
  if (value === null || value === undefined) throw new GraphQLError('JSON value is missing');
  return value;
}

builder.scalarType('JSON', {
  description: 'Any JSON value: object, array, string, number or boolean.',
  serialize: (value) => value,
  parseValue: present,
  // Literals may hold variables ({ a: $x }), which valueFromASTUntyped resolves.
  parseLiteral: (node, variables) => present(valueFromASTUntyped(node, variables)),
});

// A GraphQLError, not a TypeError: graphql-js keeps its message in the coercion error, which the
// client gets as BAD_USER_INPUT, where any other error would be masked as "Unexpected error.".
const notADate = (value: string) =>
  new GraphQLError(`DateTime must be an ISO-8601 date-time string, got ${value}`);

// A date, or a date-time with its zone: a time without one would mean whatever the server's zone is.
const ISO_8601 = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:\d\d))?$/;

function toDate(value: unknown): Date {
  const date = typeof value === 'string' && ISO_8601.test(value) ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) throw notADate(JSON.stringify(value) ?? String(value));
  return date;
}

builder.scalarType('DateTime', {
  description: 'An ISO-8601 date-time string, such as 2024-05-01T12:00:00.000Z.',
  serialize: (value) => (value instanceof Date ? value : toDate(value)).toISOString(),
  parseValue: toDate,
  parseLiteral: (node) => {
    if (node.kind !== Kind.STRING) throw notADate(print(node));
    return toDate(node.value);
  },
});
