import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { canonicalJson, type TrailEntry, verifyTrail } from '../queues/publish/index.js';

/**
 * `npm run verify-trail -- FILE.ndjson...`: checks the provenance trail of every dead letter in
 * dead-letter archives (docs/PROVENANCE.md), offline, with no gateway and no Redis. Exits 0 when
 * every line holds, 1 naming the first broken entry (file, line, dead letter, entry, what broke), 2
 * on a usage error or a file it cannot read. A line with an empty trail (it expired before the dead
 * letter was archived) cannot be checked: it is counted and reported, not failed.
 */

interface ArchiveLine {
  id?: unknown;
  message?: { id?: unknown; payload?: unknown; sha256?: unknown };
  trail?: unknown;
}

interface Tally {
  lines: number;
  entries: number;
  withoutTrail: number;
}

/** What is wrong with one archive line, or null when its trail and payload hold. */
export function checkLine(text: string): string | null {
  let line: ArchiveLine;
  try {
    line = JSON.parse(text) as ArchiveLine;
  } catch {
    return 'is not JSON';
  }
  const { message, trail } = line;
  if (!message || typeof message.id !== 'string') return 'has no message id';
  if (!Array.isArray(trail)) return 'carries no trail';
  const payloadSha = createHash('sha256')
    .update(canonicalJson(message.payload) ?? '')
    .digest('hex');
  if (message.sha256 !== payloadSha) {
    return `message sha256 ${String(message.sha256)} is not its payload's (${payloadSha})`;
  }
  const broken = verifyTrail(message.id, trail as TrailEntry[], trail.length > 0 ? payloadSha : undefined);
  if (!broken) return null;
  const entry = trail[broken.index] as Partial<TrailEntry> | undefined;
  return `entry ${broken.index} (${entry?.action ?? '?'}, at ${entry?.at ?? '?'}): ${broken.why}`;
}

async function checkFile(file: string, tally: Tally): Promise<string | null> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  for await (const text of lines) {
    number++;
    if (text.trim() === '') continue;
    const problem = checkLine(text);
    if (problem) {
      const id = (() => {
        try {
          return String((JSON.parse(text) as ArchiveLine).id ?? '?');
        } catch {
          return '?';
        }
      })();
      return `${file}:${number}: dead letter ${id}: ${problem}`;
    }
    const trail = (JSON.parse(text) as ArchiveLine).trail as unknown[];
    tally.lines++;
    tally.entries += trail.length;
    if (trail.length === 0) tally.withoutTrail++;
  }
  return null;
}

async function main(files: string[]): Promise<number> {
  if (files.length === 0) {
    process.stderr.write('usage: npm run verify-trail -- FILE.ndjson [FILE.ndjson...]\n');
    return 2;
  }
  const tally: Tally = { lines: 0, entries: 0, withoutTrail: 0 };
  for (const file of files) {
    let broken: string | null;
    try {
      broken = await checkFile(file, tally);
    } catch (error) {
      process.stderr.write(`${file}: ${(error as Error).message}\n`);
      return 2;
    }
    if (broken) {
      process.stderr.write(`BROKEN ${broken}\n`);
      return 1;
    }
  }
  const without =
    tally.withoutTrail > 0 ? `; ${tally.withoutTrail} without a trail (expired), not checked` : '';
  process.stdout.write(
    `ok: ${tally.lines} dead letters, ${tally.entries} trail entries verified${without}\n`,
  );
  return 0;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
