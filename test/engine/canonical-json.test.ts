import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize, canonicalJson } from '../../queues/publish/canonical-json.js';

/** The definition: a full sorted copy at every depth, serialized. */
function reference(value: unknown): string {
  const sort = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(sort);
    if (node === null || typeof node !== 'object') return node;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(node).sort()) {
      // defineProperty: an own "__proto__" key must stay a key, not set the prototype.
      const value = sort((node as Record<string, unknown>)[key]);
      Object.defineProperty(sorted, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return sorted;
  };
  return JSON.stringify(sort(value));
}

describe('canonicalJson', () => {
  it('serializes as a fully sorted copy would, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('sorts objects with few keys and with many alike, non-ASCII keys included', () => {
    const key = fc.string({ unit: fc.constantFrom('a', 'b', 'B', 'é', '😀', '1', '_'), maxLength: 4 });
    const wide = fc.dictionary(key, fc.integer(), { minKeys: 0, maxKeys: 40 });
    fc.assert(
      fc.property(wide, (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: 1000 },
    );
  });

  it('gives the same bytes whatever order the keys came in, integer-like keys included', () => {
    const a = { b: [{ z: 1, a: { d: 2, c: 3 } }], a: null, 10: 'x', 2: 'y' };
    const b = { 2: 'y', a: null, b: [{ a: { c: 3, d: 2 }, z: 1 }], 10: 'x' };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"2":"y","10":"x","a":null,"b":[{"a":{"c":3,"d":2},"z":1}]}');
  });

  it('hands back a value in canonical order that serializes to the canonical JSON and equals the input', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const canonical = canonicalize(value);
        expect(JSON.stringify(canonical.value)).toBe(canonical.json);
        expect(canonical.json).toBe(reference(value));
        expect(canonical.value).toEqual(value);
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps a "__proto__" key that JSON.parse made an own property', () => {
    const payload = JSON.parse('{"z":1,"__proto__":{"b":2,"a":1}}') as unknown;
    expect(canonicalJson(payload)).toBe('{"__proto__":{"a":1,"b":2},"z":1}');
    expect(JSON.stringify(canonicalize(payload).value)).toBe('{"__proto__":{"a":1,"b":2},"z":1}');
  });

  it('leaves the input as it was', () => {
    const input = { b: { d: 1, c: 2 }, a: [3, { f: 4, e: 5 }] };
    const before = JSON.stringify(input);
    canonicalJson(input);
    expect(JSON.stringify(input)).toBe(before);
  });
});
