import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeadLetterRecord } from '../../queues/dead-letters/dead-letters.js';
import { waitFor } from '../helpers/redis.js';
import { consumerTopic, deadLetter, listAll, messageIds, useEngineHarness } from './helpers.js';

const harness = useEngineHarness();
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-archive-'));
  dirs.push(dir);
  return dir;
}

const HOUR = 60 * 60 * 1000;

describe('retention', () => {
  it('should remove dead letters older than the retention age and archive them first, one file per day', async () => {
    const archiveDir = await tempDir();
    const engine = await harness.engine({ deadLetters: { retentionMs: HOUR, archiveDir } });
    await consumerTopic(engine, 'orders', ['a']);
    await consumerTopic(engine, 'billing', ['a']);
    const old = [
      ...(await deadLetter(engine, 'orders', 'a', 3, 'REJECTED', () => 'authorization: Bearer abc.def.ghi')),
      ...(await deadLetter(engine, 'billing', 'a', 1)),
    ];
    const cutoff = Date.parse((await listAll(engine))[0]?.failedAt ?? '');
    await waitFor(() => Date.now() > cutoff);
    const fresh = await deadLetter(engine, 'orders', 'a', 2);

    // The sweep every engine runs at start holds the topics' sweep locks for a moment.
    await engine.deadLetters.idle();
    expect(await engine.deadLetters.sweep(cutoff + HOUR)).toEqual({ removed: 4, archived: 4 });

    expect(new Set(messageIds(await listAll(engine)))).toEqual(new Set(fresh));
    expect(await engine.topicStats('billing')).toMatchObject({ deadLettered: 0 });
    const files = await readdir(archiveDir);
    expect(files).toEqual([`${new Date(cutoff).toISOString().slice(0, 10)}.ndjson`]);
    const lines = (await readFile(join(archiveDir, files[0] ?? ''), 'utf8')).trim().split('\n');
    const records = lines.map((line) => JSON.parse(line) as DeadLetterRecord & { archivedAt: string });
    expect(new Set(records.map((record) => record.message.id))).toEqual(new Set(old));
    const archived = records.find((record) => record.topic === 'orders');
    expect(archived).toMatchObject({ reason: 'REJECTED', error: 'authorization: [REDACTED]', attempts: 1 });
    expect(archived?.history).toMatchObject([{ attempt: 1, error: 'authorization: [REDACTED]' }]);
    expect(lines.join('\n')).not.toContain('abc.def.ghi');

    expect(await engine.deadLetters.sweep(cutoff + HOUR)).toEqual({ removed: 0, archived: 0 });
  });

  it('should sweep on its own timer', async () => {
    const engine = await harness.engine({ deadLetters: { retentionMs: 1, maintenanceIntervalMs: 50 } });
    await consumerTopic(engine, 'orders', ['a']);
    await deadLetter(engine, 'orders', 'a', 3);
    await waitFor(async () => (await engine.topicStats('orders')).deadLettered === 0, {
      message: 'the maintenance timer did not remove the expired dead letters',
    });
    expect(await listAll(engine)).toEqual([]);
  });

  it('should keep everything with a retention of 0, and skip a topic another instance is sweeping', async () => {
    const keeper = await harness.engine({ deadLetters: { retentionMs: 0 } });
    await consumerTopic(keeper, 'orders', ['a']);
    await deadLetter(keeper, 'orders', 'a', 2);
    expect(await keeper.deadLetters.sweep(Date.now() + 365 * 24 * HOUR)).toEqual({ removed: 0, archived: 0 });

    // Another instance holds the topic's sweep, from before this one starts (its start runs a sweep too).
    const lock = keeper.keys.deadLetters('orders').sweepLock;
    await harness.redis.client().set(lock, 'someone-else', 'PX', 60_000);
    const sweeper = await harness.engine({
      keyPrefix: keeper.keys.topics.split(':')[0],
      deadLetters: { retentionMs: 1 },
      runWorkers: false,
    });
    await sweeper.deadLetters.idle();
    expect(await sweeper.deadLetters.sweep(Date.now() + HOUR)).toEqual({ removed: 0, archived: 0 });
    expect(await keeper.topicStats('orders')).toMatchObject({ deadLettered: 2 });
    await harness.redis.client().del(lock);
    expect(await sweeper.deadLetters.sweep(Date.now() + HOUR)).toEqual({ removed: 2, archived: 0 });
  });
});
