import { randomUUID } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redact } from '../delivery/index.js';
import { readWholeTrails } from '../publish/index.js';
import type { Commands, Keys, RedisClient } from '../redis/index.js';
import type { Registry } from '../registry/index.js';
import type { DeadLetterDiscard } from './discard.js';
import { byQueue } from './discard.js';
import type { DeadLetterRef } from './ids.js';
import type { DeadLetterIndex } from './indexer.js';
import { type DeadLetterRecord, readDeadLetters } from './record.js';

/** Dead letters removed per round of a sweep. */
const CHUNK = 500;
/** How long one instance holds a topic's sweep; another instance takes over after a crash. */
const LOCK_MS = 60_000;

export interface DeadLetterRetentionOptions {
  client: RedisClient;
  keys: Keys;
  registry: Registry;
  commands: Commands;
  index: DeadLetterIndex;
  discard: DeadLetterDiscard;
  redact: Redact;
  /** Age past which a dead letter is removed; 0 keeps them forever. */
  retentionMs: number;
  /** Folder that receives each removed dead letter first, as NDJSON, one file per day; null for none. */
  archiveDir: string | null;
}

export interface SweepResult {
  removed: number;
  archived: number;
}

/**
 * Retention: dead letters older than `retentionMs` are removed (archived first when a folder is set).
 * One instance sweeps a topic at a time (a lock in the topic's hash tag). Archiving comes before the
 * removal, so a crash in between writes the same lines again on the next sweep: the archive is
 * at-least-once, and each line carries the dead letter's id to dedupe on.
 */
export function createDeadLetterRetention(options: DeadLetterRetentionOptions) {
  const { client, keys, registry, commands, index, discard, redact } = options;

  async function archive(refs: readonly DeadLetterRef[], cutoff: number): Promise<number> {
    const dir = options.archiveDir;
    if (dir === null) return 0;
    const records = (await readDeadLetters(client, keys, refs, redact)).filter(
      (record): record is DeadLetterRecord => record !== null && Date.parse(record.failedAt) <= cutoff,
    );
    // Each line carries its message's whole provenance trail (PUBLISHED derived from the dead letter's
    // message, then the stored entries), so an archive verifies offline (docs/PROVENANCE.md).
    const trails = await readWholeTrails(
      client,
      records.map((record) => keys.trail(record.topic, record.message.id)),
      records.map((record) => record.message),
    );
    const byDay = new Map<string, string[]>();
    const archivedAt = new Date().toISOString();
    for (const [index, record] of records.entries()) {
      const day = record.failedAt.slice(0, 10);
      const lines = byDay.get(day) ?? [];
      lines.push(JSON.stringify({ ...record, trail: trails[index] ?? [], archivedAt }));
      byDay.set(day, lines);
    }
    await mkdir(dir, { recursive: true });
    for (const [day, lines] of byDay) await appendFile(join(dir, `${day}.ndjson`), `${lines.join('\n')}\n`);
    return records.length;
  }

  async function sweepTopic(topic: string, cutoff: number): Promise<SweepResult> {
    const sets = keys.deadLetters(topic);
    const token = randomUUID();
    if ((await client.set(sets.sweepLock, token, 'PX', LOCK_MS, 'NX')) !== 'OK')
      return { removed: 0, archived: 0 };
    const result = { removed: 0, archived: 0 };
    try {
      const bound = Math.ceil((await client.zcount(sets.base, '-inf', cutoff)) / CHUNK) + 2;
      for (let round = 0; round < bound; round++) {
        const members = await client.zrangebyscore(sets.base, '-inf', cutoff, 'LIMIT', 0, CHUNK);
        if (members.length === 0) break;
        const refs = members.map((member) => {
          const slash = member.indexOf('/');
          return { topic, queue: member.slice(0, slash), jobId: member.slice(slash + 1) };
        });
        result.archived += await archive(refs, cutoff);
        let removed = 0;
        for (const group of byQueue(refs)) {
          const [first] = group;
          if (!first) continue;
          const ids = group.map((ref) => ref.jobId);
          const gone = new Set(await discard.discardJobs(topic, first.queue, ids, String(cutoff)));
          removed += gone.size;
          // Kept because it failed again since it was indexed: move its entry to its newer failure time.
          await Promise.all(
            ids.filter((id) => !gone.has(id)).map((id) => index.record(topic, first.queue, id)),
          );
        }
        result.removed += removed;
        if (removed === 0) break;
      }
    } finally {
      await commands.run<number>('release-claim-1', [sets.sweepLock], [token]);
    }
    return result;
  }

  return {
    /** Removes (and archives) every dead letter older than the retention age; one pass over all topics. */
    async sweep(now: number = Date.now()): Promise<SweepResult> {
      const total = { removed: 0, archived: 0 };
      if (options.retentionMs <= 0) return total;
      const cutoff = now - options.retentionMs;
      for (const topic of (await registry.table()).topics()) {
        const result = await sweepTopic(topic.name, cutoff);
        total.removed += result.removed;
        total.archived += result.archived;
      }
      return total;
    },
  };
}

export type DeadLetterRetention = ReturnType<typeof createDeadLetterRetention>;
