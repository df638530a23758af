import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { waitFor } from '../helpers/redis.js';
import { type ChainEntry, firstBreak, payloadSha256 } from '../helpers/trail-chain.js';
import { consumerTopic, deadLetter, listAll, useEngineHarness } from './helpers.js';

const harness = useEngineHarness();
const run = promisify(execFile);
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

const HOUR = 60 * 60 * 1000;

interface ArchiveLine {
  id: string;
  message: { id: string; payload: unknown; sha256: string };
  trail: ChainEntry[];
}

/** `npm run verify-trail -- file`, as an operator runs it: its exit code and what it printed. */
async function verifyTrail(file: string): Promise<{ code: number; out: string }> {
  const args = ['run', '--silent', 'verify-trail', '--', ...(file ? [file] : [])];
  try {
    const { stdout } = await run('npm', args, { cwd: process.cwd() });
    return { code: 0, out: stdout };
  } catch (error) {
    const failed = error as { code: number; stderr: string; stdout: string };
    return { code: failed.code, out: `${failed.stdout}${failed.stderr}` };
  }
}

/**
 * Two dead letters of orders/a, the first replayed with an edit and dead again, then archived by the
 * retention sweep; `beforeSweep` may change Redis first. Answers the archive file and its lines.
 */
async function archive(
  beforeSweep: (engine: Engine, editedId: string) => Promise<void> = async () => {},
): Promise<{ file: string; lines: ArchiveLine[]; editedId: string }> {
  const archiveDir = await mkdtemp(join(tmpdir(), 'switchyard-trail-'));
  dirs.push(archiveDir);
  const engine = await harness.engine({ deadLetters: { retentionMs: HOUR, archiveDir } });
  await consumerTopic(engine, 'orders', ['a'], { maxAttempts: 1 });
  await deadLetter(engine, 'orders', 'a', 2);
  const [first] = await listAll(engine);
  const editedId = first?.message.id ?? '';
  await engine.deadLetters.replay(first?.id ?? '', { payload: { edited: true }, by: 'ops' });
  const [again] = await engine.receive('orders', 'a', 1, 2_000);
  await engine.nack(again?.id ?? '', 'REJECTED', 'still no');
  await waitFor(async () => (await listAll(engine)).length === 2);
  const cutoff = Math.max(...(await listAll(engine)).map((record) => Date.parse(record.failedAt)));
  await waitFor(() => Date.now() > cutoff);
  await beforeSweep(engine, editedId);
  await engine.deadLetters.idle();
  expect(await engine.deadLetters.sweep(cutoff + HOUR)).toEqual({ removed: 2, archived: 2 });
  const [name] = await readdir(archiveDir);
  const file = join(archiveDir, name ?? '');
  const text = await readFile(file, 'utf8');
  return {
    file,
    editedId,
    lines: text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ArchiveLine),
  };
}

const lineOf = (lines: ArchiveLine[], id: string) => lines.findIndex((line) => line.message.id === id);

describe('the dead-letter archive carries each trail, and verify-trail checks it offline', () => {
  it('should archive trails that verify, and exit 0 saying how much it checked', async () => {
    const { file, lines, editedId } = await archive();
    const edited = lines[lineOf(lines, editedId)];
    expect(edited?.trail.map((entry) => [entry.action, entry.by, entry.queue])).toEqual([
      ['PUBLISHED', null, null],
      ['EDITED', 'ops', 'a'],
    ]);
    for (const line of lines) {
      expect(firstBreak(line.message.id, line.trail)).toBe(-1);
      expect(line.trail.at(-1)?.sha256).toBe(payloadSha256(line.message.payload));
    }
    const verified = await verifyTrail(file);
    expect(verified.code).toBe(0);
    expect(verified.out).toMatch(/ok: 2 dead letters, 3 trail entries verified/);
  }, 30_000);

  it('should exit 1 naming the entry changed in the file, where the test-side check breaks too', async () => {
    const { file, lines, editedId } = await archive();
    const at = lineOf(lines, editedId);
    const line = lines[at] as ArchiveLine;
    const tampered = { ...line, trail: [line.trail[0], { ...line.trail[1], by: 'nobody' }] as ChainEntry[] };
    expect(firstBreak(editedId, tampered.trail)).toBe(1);
    const copy = lines.map((each, index) => JSON.stringify(index === at ? tampered : each));
    await writeFile(file, `${copy.join('\n')}\n`);
    const verified = await verifyTrail(file);
    expect(verified.code).toBe(1);
    expect(verified.out).toContain(`${file}:${at + 1}: dead letter orders/a/${editedId}: entry 1 (EDITED`);
  }, 30_000);

  it('should exit 1 on a payload changed without its trail', async () => {
    const { file, lines, editedId } = await archive();
    const at = lineOf(lines, editedId);
    const copy = lines.map((each, index) =>
      JSON.stringify(
        index === at ? { ...each, message: { ...each.message, payload: { edited: false } } } : each,
      ),
    );
    await writeFile(file, `${copy.join('\n')}\n`);
    const verified = await verifyTrail(file);
    expect(verified.code).toBe(1);
    expect(verified.out).toMatch(/is not its payload's/);
  }, 30_000);

  it('should show a stored entry changed in Redis as the chain broken exactly there, archived and checked offline', async () => {
    const { file, lines, editedId } = await archive(async (engine, id) => {
      // The replayed message's first stored entry (EDITED): PUBLISHED is derived, never stored.
      const key = engine.keys.trail('orders', id);
      const client = harness.redis.client();
      const [first] = (await client.lrange(key, 0, 0)).map((text) => JSON.parse(text) as ChainEntry);
      expect(first?.action).toBe('EDITED');
      await client.lset(key, 0, JSON.stringify({ ...first, by: 'forged' }));
    });
    const line = lines[lineOf(lines, editedId)] as ArchiveLine;
    expect(firstBreak(editedId, line.trail)).toBe(1);
    const verified = await verifyTrail(file);
    expect(verified.code).toBe(1);
    expect(verified.out).toContain(`entry 1 (EDITED`);
  }, 30_000);

  it("should show the dead letter's by changed in Redis as the chain broken at the stored entry after PUBLISHED", async () => {
    const { file, lines, editedId } = await archive(async (engine, id) => {
      const client = harness.redis.client();
      const job = engine.keys.bull('orders', 'a').job(id);
      const data = JSON.parse((await client.hget(job, 'data')) ?? '{}') as Record<string, unknown>;
      await client.hset(job, 'data', JSON.stringify({ ...data, by: 'forged' }));
    });
    const line = lines[lineOf(lines, editedId)] as ArchiveLine;
    expect(line.trail[0]?.by).toBe('forged');
    expect(firstBreak(editedId, line.trail)).toBe(1);
    const verified = await verifyTrail(file);
    expect(verified.code).toBe(1);
    expect(verified.out).toContain(`entry 1 (EDITED`);
  }, 30_000);

  it('should exit 2 with a usage line when given no file', async () => {
    const verified = await verifyTrail('');
    expect(verified.code).toBe(2);
  });
});
