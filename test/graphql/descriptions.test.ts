import {
  buildSchema,
  type GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isSpecifiedScalarType,
  parse,
  print,
  printSchema,
  visit,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../schema/index.js';

/**
 * Every part of the schema a reader meets in GraphiQL's docs pane without a description, as schema
 * coordinates: types, fields, arguments, enum values and input fields. Introspection types and the
 * built-in scalars (String, Int…) are graphql-js's and described by it.
 */
function undescribed(target: GraphQLSchema): string[] {
  const missing: string[] = [];
  const check = (coordinate: string, description: string | null | undefined) => {
    if (!description?.trim()) missing.push(coordinate);
  };
  for (const type of Object.values(target.getTypeMap())) {
    if (type.name.startsWith('__') || isSpecifiedScalarType(type)) continue;
    check(type.name, type.description);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        check(`${type.name}.${field.name}`, field.description);
        for (const arg of field.args) check(`${type.name}.${field.name}(${arg.name}:)`, arg.description);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields()))
        check(`${type.name}.${field.name}`, field.description);
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) check(`${type.name}.${value.name}`, value.description);
    }
  }
  return missing;
}

describe('descriptions in the schema', () => {
  it('should describe every type, field, argument, enum value and input field', () => {
    expect(undescribed(schema)).toEqual([]);
  });

  it('should name each part that lacks a description', () => {
    // The walk must be able to fail, or the test above proves nothing.
    const bare = buildSchema(`
      "described" type Query { "described" a(x: Int, "described" y: Int): E  b: In }
      enum E { "described" ONE TWO }
      input In { "described" c: Int  d: Int }
      scalar Bare
      type Unused { e: Bare }
    `);
    expect(undescribed(bare)).toEqual([
      'Query.a(x:)',
      'Query.b',
      'E',
      'E.TWO',
      'In',
      'In.d',
      'Bare',
      'Unused',
      'Unused.e',
    ]);
    // The real schema without its descriptions: each kind of part is reported.
    const stripped = buildSchema(
      print(
        visit(parse(printSchema(schema)), {
          enter: (node) =>
            'description' in node && node.description ? { ...node, description: undefined } : undefined,
        }),
      ),
    );
    expect(undescribed(stripped)).toEqual(
      expect.arrayContaining([
        'Query',
        'Topic.name',
        'Mutation.publish(input:)',
        'FailureReason.REJECTED',
        'PublishInput.topic',
        'PageInfo.hasPreviousPage',
        'JSON',
      ]),
    );
  });
});
