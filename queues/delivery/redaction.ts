/**
 * Redaction of secrets in the error texts a dead letter keeps. A receiver that echoes our request, or
 * a consumer's nack, can put header values into an error; this finds `name: value`, `name=value` and
 * `"name": "value"` pairs (also inside escaped JSON) whose name matches one of the configured globs and
 * replaces the value. Signing secrets (`whsec_…`) and bearer credentials are replaced wherever they
 * stand, whatever the list says.
 */

/** Header names redacted by default: case-insensitive globs where `*` matches any run of characters. */
export const DEFAULT_REDACTED_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  '*secret*',
  '*token*',
];

export const REDACTED = '[REDACTED]';

/** Longest error text kept in a dead letter; webhook bodies are already cut to 500 characters. */
export const MAX_ERROR_CHARS = 2048;

export type Redact = (text: string) => string;

/** A header-ish name followed by its separator; the value is read separately, only for a match. */
const NAME_THEN_SEPARATOR = /([A-Za-z0-9][A-Za-z0-9_.-]*)(\\?["'])?\s*[:=]\s*/g;
/**
 * A value: escaped-quoted, quoted, or a bare word with an optional auth scheme in front, and the
 * `; name=value` pairs that follow it (a cookie header is all of them).
 */
const VALUE =
  /\\"(?:[^\\]|\\[^"])*?\\"|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|(?:(?:Bearer|Basic|Digest|Token|Bot|Negotiate|ApiKey)\s+)?[^\s"'\\,;&}\])]+(?:;\s*[^\s"'\\,;&}\])=]+=[^\s"'\\,;&}\])]*)*/y;
const SIGNING_SECRET = /whsec_[A-Za-z0-9+/=]+/g;
const CREDENTIAL = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/gi;

/** Checks a list of globs; throws with the bad one named. */
export function assertRedactionPatterns(patterns: readonly string[]): void {
  for (const pattern of patterns) {
    if (!/^[A-Za-z0-9*_.-]{1,128}$/.test(pattern)) {
      throw new Error(`redaction pattern ${JSON.stringify(pattern)} may only hold A-Z a-z 0-9 _ . - and *`);
    }
  }
}

function globToRegExp(pattern: string): RegExp {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 'i');
}

function replacement(value: string): string {
  if (value.startsWith('\\"')) return `\\"${REDACTED}\\"`;
  if (value.startsWith('"')) return `"${REDACTED}"`;
  if (value.startsWith("'")) return `'${REDACTED}'`;
  return REDACTED;
}

/** Makes the redactor for a list of header-name globs. */
export function createRedactor(patterns: readonly string[] = DEFAULT_REDACTED_HEADERS): Redact {
  assertRedactionPatterns(patterns);
  const globs = patterns.map(globToRegExp);
  const sensitive = (name: string) => globs.some((glob) => glob.test(name));
  return (text) => {
    const clipped = text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
    let out = '';
    let last = 0;
    const names = new RegExp(NAME_THEN_SEPARATOR.source, 'g');
    for (let match = names.exec(clipped); match; match = names.exec(clipped)) {
      if (!sensitive(match[1] ?? '')) continue;
      const valueAt = match.index + match[0].length;
      const value = new RegExp(VALUE.source, 'y');
      value.lastIndex = valueAt;
      const found = value.exec(clipped);
      // Already redacted (errors are redacted when stored and again when read): leave it as it is.
      if (!found || clipped.startsWith(REDACTED, valueAt + found[0].indexOf('['))) continue;
      out += clipped.slice(last, valueAt) + replacement(found[0]);
      last = valueAt + found[0].length;
      names.lastIndex = last;
    }
    out += clipped.slice(last);
    return out.replace(SIGNING_SECRET, `whsec_${REDACTED}`).replace(CREDENTIAL, `$1 ${REDACTED}`);
  };
}
