import { createHash } from 'node:crypto';
import { DAY, type MessageRecord, type TopicHistorySettings } from '../core/index.js';
import type { RedisClient } from '../redis/index.js';

/**
 * A message's provenance trail (docs/PROVENANCE.md): one hash-chained entry per step (publish,
 * dead-letter replay, edited replay, replay into another queue), each written by the step's own call,
 * so a step is in the trail if and only if it happened. The PUBLISHED entry is not stored on its own:
 * it is derived from the message record its publish wrote (job data, history entry, dead letter), so
 * a publish costs no key; the entries after it are a list, `~trail:<id>`, made by the second step.
 */

export const TRAIL_ACTIONS = ['PUBLISHED', 'REPLAYED', 'EDITED', 'REPLAYED_TO_QUEUE'] as const;
export type TrailAction = (typeof TRAIL_ACTIONS)[number];

/** One step of a trail, as stored (one JSON string per entry) and answered. */
export interface TrailEntry {
  action: TrailAction;
  /** ISO-8601 UTC with milliseconds, exactly as hashed. */
  at: string;
  /** The API key's name; null when keyless. */
  by: string | null;
  /** Where the message went; null for a publish (it went to its topic). */
  queue: string | null;
  /** Hex SHA-256 of the canonical payload after this step. */
  sha256: string;
  /** The previous entry's hash; null on the first entry. */
  prevHash: string | null;
  hash: string;
}

/** What a step says of itself; the chain adds prevHash and hash. */
export type TrailStep = Pick<TrailEntry, 'action' | 'at' | 'by' | 'queue' | 'sha256'>;

/**
 * How long a trail is kept after its last step unless the engine is told otherwise: the dead-letter
 * retention's default, so a message dead-lettered soon after it was published keeps its trail as long
 * as it stays a dead letter (docs/PROVENANCE.md#where-each-entry-lives-and-for-how-long).
 */
export const TRAIL_RETENTION_MS = 14 * DAY;

/**
 * The expiry a step gives its message's trail: the retention, or the topic history's maxAgeMs when
 * that keeps the message longer. Each step only ever raises a trail's expiry.
 */
export function trailTtl(retentionMs: number | undefined, history: TopicHistorySettings | null): number {
  return Math.max(retentionMs ?? TRAIL_RETENTION_MS, history?.maxAgeMs ?? 0);
}

/** The first field of every hashed layout: names the layout, so a later one can never collide with it. */
export const TRAIL_LAYOUT = 'switchyard-trail-v1';

/** Length (32-bit big-endian) then UTF-8 bytes; a null is the length 0xFFFFFFFF and no bytes. */
function field(value: string | null): Buffer {
  const length = Buffer.alloc(4);
  if (value === null) {
    length.writeUInt32BE(0xffffffff);
    return length;
  }
  const bytes = Buffer.from(value, 'utf8');
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/**
 * The chain link: SHA-256 over the layout tag, the message id, prevHash and the step's fields, each
 * length-prefixed (docs/PROVENANCE.md#the-byte-layout). The message id binds an entry to its message,
 * so a trail cannot be moved to another one.
 */
export function trailHash(messageId: string, prevHash: string | null, step: TrailStep): string {
  const bytes = Buffer.concat(
    [TRAIL_LAYOUT, messageId, prevHash, step.action, step.at, step.by, step.queue, step.sha256].map(field),
  );
  return createHash('sha256').update(bytes).digest('hex');
}

/** The next entry of a chain whose last hash is `prevHash` (null: the first entry). */
export function chainEntry(messageId: string, prevHash: string | null, step: TrailStep): TrailEntry {
  return { ...step, prevHash, hash: trailHash(messageId, prevHash, step) };
}

/** What the PUBLISHED entry is derived from: the message record as its publish stored it. */
export type PublishedRecord = Pick<MessageRecord, 'id' | 'publishedAt' | 'sha256' | 'by' | 'publishedSha256'>;

/**
 * The trail's first entry, derived from the message record (docs/PROVENANCE.md#where-each-entry-lives-and-for-how-long):
 * at publishedAt, by the publishing key, to no queue, with the payload's hash as published (an edit
 * keeps that in publishedSha256).
 */
export function publishedEntry(message: PublishedRecord): TrailEntry {
  return chainEntry(message.id, null, {
    action: 'PUBLISHED',
    at: message.publishedAt,
    by: message.by ?? null,
    queue: null,
    sha256: message.publishedSha256 ?? message.sha256,
  });
}

/** Where a new step links: the stored head it must find at its write ('' none), and its prevHash. */
export interface TrailLink {
  /** The last stored entry's hash, '' when none is stored: the publish-commit / trail-append-n gate. */
  expectedHead: string;
  /** The hash the new entry links to: the stored head, or the derived PUBLISHED entry's. */
  prevHash: string;
}

/**
 * The links of new steps on these messages, their stored heads read in one pipeline: a message with
 * no stored entry yet links to its derived PUBLISHED entry.
 */
export async function readLinks(
  client: RedisClient,
  trailKeys: readonly string[],
  messages: readonly PublishedRecord[],
): Promise<TrailLink[]> {
  const heads = await readHeads(client, trailKeys);
  return messages.map((message, index) => {
    const head = heads[index] ?? null;
    return { expectedHead: head ?? '', prevHash: head ?? publishedEntry(message).hash };
  });
}

/**
 * Whole trails, oldest first: each message's derived PUBLISHED entry, then what its trail key stores
 * (read in one pipeline). A null record (none is kept any more) answers the stored entries alone.
 */
export async function readWholeTrails(
  client: RedisClient,
  trailKeys: readonly string[],
  messages: readonly (PublishedRecord | null)[],
): Promise<TrailEntry[][]> {
  const stored = await readTrails(client, trailKeys);
  return messages.map((message, index) => {
    const rest = stored[index] ?? [];
    return message ? [publishedEntry(message), ...rest] : rest;
  });
}

/** The stored form of an entry, its fields always in this order. */
export function storedEntry(entry: TrailEntry): string {
  const { action, at, by, queue, sha256, prevHash, hash } = entry;
  return JSON.stringify({ action, at, by, queue, sha256, prevHash, hash });
}

/**
 * The hash of a stored entry, as the Lua that appends reads it ('' when there is none or it is not an
 * entry): the chain head a new entry links to.
 */
export function headHash(stored: string | null): string {
  if (stored === null) return '';
  try {
    const parsed = JSON.parse(stored) as { hash?: unknown } | null;
    return typeof parsed?.hash === 'string' ? parsed.hash : '';
  } catch {
    return '';
  }
}

/** A stored entry as read back; a value that is not one is an error, never shown as a step. */
export function parseEntry(stored: string): TrailEntry {
  const parsed = JSON.parse(stored) as TrailEntry | null;
  if (!parsed || typeof parsed !== 'object' || typeof parsed.hash !== 'string') {
    throw new Error(`A trail holds something that is not an entry: ${stored.slice(0, 80)}`);
  }
  return parsed;
}

/** The chain heads (last hashes, null for an empty trail) of these trail keys, in one pipeline. */
export async function readHeads(
  client: RedisClient,
  trailKeys: readonly string[],
): Promise<(string | null)[]> {
  if (trailKeys.length === 0) return [];
  const pipeline = client.pipeline();
  for (const key of trailKeys) pipeline.lindex(key, -1);
  const answers = (await pipeline.exec()) ?? [];
  return answers.map(([error, value]) => {
    if (error) throw error;
    return headHash((value as string | null) ?? null) || null;
  });
}

/** Every entry of each trail key, oldest first, in one pipeline. */
export async function readTrails(client: RedisClient, trailKeys: readonly string[]): Promise<TrailEntry[][]> {
  if (trailKeys.length === 0) return [];
  const pipeline = client.pipeline();
  for (const key of trailKeys) pipeline.lrange(key, 0, -1);
  const answers = (await pipeline.exec()) ?? [];
  return answers.map(([error, value]) => {
    if (error) throw error;
    return ((value as string[] | null) ?? []).map(parseEntry);
  });
}

/** Where a trail breaks: the first entry that does not hold, and why. */
export interface TrailBreak {
  /** The entry's index, from 0 (the trail's length when the trail ends on the wrong payload). */
  index: number;
  why: string;
}

/**
 * Checks a trail of message `messageId` link by link (docs/PROVENANCE.md): each prevHash is the hash
 * before it, each hash is recomputed from the entry, and the last entry's sha256 is `currentSha256`
 * when given. Answers the first break, or null when every link holds.
 */
export function verifyTrail(
  messageId: string,
  trail: readonly TrailEntry[],
  currentSha256?: string,
): TrailBreak | null {
  let previous: string | null = null;
  for (const [index, entry] of trail.entries()) {
    if (entry.prevHash !== previous) {
      return { index, why: `prevHash is ${entry.prevHash}, the entry before has hash ${previous}` };
    }
    const expected = trailHash(messageId, entry.prevHash, entry);
    if (entry.hash !== expected) {
      return { index, why: `hash is ${entry.hash}, its fields hash to ${expected}` };
    }
    previous = entry.hash;
  }
  const last = trail.at(-1);
  if (last && currentSha256 !== undefined && last.sha256 !== currentSha256) {
    return {
      index: trail.length - 1,
      why: `the last entry's sha256 ${last.sha256} is not the message's ${currentSha256}`,
    };
  }
  return null;
}
