import { createHash } from 'node:crypto';

/**
 * A provenance trail verifier written from docs/PROVENANCE.md alone, with node:crypto: the tests check
 * the gateway's chains with it, never with the gateway's own hashing.
 */
export interface ChainEntry {
  action: string;
  at: string;
  by: string | null;
  queue: string | null;
  sha256: string;
  prevHash: string | null;
  hash: string;
}

function lengthPrefixed(value: string | null): Buffer {
  if (value === null) return Buffer.from([0xff, 0xff, 0xff, 0xff]);
  const bytes = Buffer.from(value, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([length, bytes]);
}

/** The hash an entry must carry, recomputed from the documented layout. */
export function expectedHash(messageId: string, entry: Omit<ChainEntry, 'hash'>): string {
  const parts = [
    'switchyard-trail-v1',
    messageId,
    entry.prevHash,
    entry.action,
    entry.at,
    entry.by,
    entry.queue,
    entry.sha256,
  ];
  const hash = createHash('sha256');
  for (const part of parts) hash.update(lengthPrefixed(part));
  return hash.digest('hex');
}

/** The index of the first entry that breaks the chain, or -1 when every link holds. */
export function firstBreak(messageId: string, trail: readonly ChainEntry[]): number {
  let previous: string | null = null;
  for (const [index, entry] of trail.entries()) {
    if (entry.prevHash !== previous) return index;
    if (entry.hash !== expectedHash(messageId, entry)) return index;
    previous = entry.hash;
  }
  return -1;
}

/** Hex SHA-256 of a payload's canonical JSON (object keys sorted at every depth), written here from the docs. */
export function payloadSha256(payload: unknown): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value === null || typeof value !== 'object') return value;
    const record = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(record)
        .sort()
        .map((key) => [key, canonical(record[key])]),
    );
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical(payload)))
    .digest('hex');
}
