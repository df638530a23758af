/**
 * JSON with object keys sorted at every depth, so equal payloads always give equal bytes and so the
 * same SHA-256, whatever order a client wrote the keys in.
 */
export function canonicalJson(value: unknown): string {
  return canonicalize(value).json;
}

/**
 * The value in canonical order (a copy only where the order changes) and its canonical JSON, so a
 * caller can keep the very value it hashed.
 */
export function canonicalize(value: unknown): { value: unknown; json: string } {
  const sorted = sortKeys(value);
  return { value: sorted, json: JSON.stringify(sorted) };
}

/**
 * The value with its keys in sorted order, copying only the objects and arrays whose order changes:
 * most payloads arrive already sorted, or nearly, and every copy is garbage a moment later.
 */
function sortKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      const sorted = sortKeys(item);
      if (sorted !== item) {
        copy ??= value.slice();
        copy[index] = sorted;
      }
    }
    return copy ?? value;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  // Keys already in sorted order enumerate (and so serialize) exactly as the sorted copy would.
  let ordered = true;
  for (let index = 1; index < keys.length && ordered; index++) {
    ordered = (keys[index - 1] as string) < (keys[index] as string);
  }
  let copy: Record<string, unknown> | null = null;
  if (!ordered) {
    copy = {};
    for (const key of sortStrings(keys)) setOwn(copy, key, sortKeys(record[key]));
    return copy;
  }
  for (const key of keys) {
    const item = record[key];
    const sorted = sortKeys(item);
    if (sorted !== item) {
      copy ??= { ...record };
      setOwn(copy, key, sorted);
    }
  }
  return copy ?? record;
}

/**
 * `target[key] = value`, except that a `"__proto__"` key (JSON.parse makes it an ordinary own
 * property) stays a property: assigned, it would set the prototype and vanish from the payload.
 */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/**
 * `keys.sort()`, in place: the same order (UTF-16 code units), but for the few keys a payload object
 * usually has, an insertion sort, which allocates nothing where V8's sort allocates work arrays on
 * every call.
 */
function sortStrings(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let index = 1; index < keys.length; index++) {
    const key = keys[index] as string;
    let at = index - 1;
    while (at >= 0 && (keys[at] as string) > key) {
      keys[at + 1] = keys[at] as string;
      at--;
    }
    keys[at + 1] = key;
  }
  return keys;
}
