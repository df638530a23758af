import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

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

/** The fields of a stored message record (job data, history entry, dead letter) the PUBLISHED entry comes from. */
export interface PublishedFields {
  id: string;
  publishedAt: string;
  sha256: string;
  by?: string;
  publishedSha256?: string;
}

/** The PUBLISHED entry, derived from a message record as docs/PROVENANCE.md says. */
export function publishedEntry(record: PublishedFields): ChainEntry {
  const entry = {
    action: 'PUBLISHED',
    at: record.publishedAt,
    by: record.by ?? null,
    queue: null,
    sha256: record.publishedSha256 ?? record.sha256,
    prevHash: null,
  };
  return { ...entry, hash: expectedHash(record.id, entry) };
}

/**
 * The message record as a job holds it (the first of `jobKeys` that exists) or, failing that, as the
 * topic's history stream holds it; null when none does.
 */
export async function recordInRedis(
  client: Redis,
  id: string,
  where: { jobKeys?: string[]; history?: string },
): Promise<PublishedFields | null> {
  for (const key of where.jobKeys ?? []) {
    const data = await client.hget(key, 'data');
    if (data !== null) return JSON.parse(data) as PublishedFields;
  }
  if (where.history === undefined) return null;
  for (const [, fields] of await client.xrange(where.history, '-', '+')) {
    const record = JSON.parse(fields[1] ?? '{}') as PublishedFields;
    if (record.id === id) return record;
  }
  return null;
}

/** The whole trail as Redis holds it, read without the gateway: PUBLISHED from the record, then the trail key's entries. */
export async function chainInRedis(
  client: Redis,
  record: PublishedFields | null,
  trailKey: string,
): Promise<ChainEntry[]> {
  const stored = (await client.lrange(trailKey, 0, -1)).map((line) => JSON.parse(line) as ChainEntry);
  return record ? [publishedEntry(record), ...stored] : stored;
}
