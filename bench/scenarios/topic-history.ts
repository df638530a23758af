import type { RedisClient } from '../../queues/redis/index.js';
import { startSides, usedMemory } from '../harness.js';
import { assertNoErrors, type Scenario } from '../scenario.js';
import { perSecond } from '../stats.js';
import { publishClosed, withTopology } from './common.js';

/** Every message of a run stays in the history: the bytes per entry are those of a full stream. */
const HISTORY = { maxMessages: 10_000_000 };

/**
 * Topic history (docs/HISTORY.md): the same gateway, topic and CONSUMER queue, with the topic keeping
 * a history (the Switchyard column) and without (the raw column), so the ratio is what the history's
 * XADD in the publish's own call costs. Redis bytes per message: per history entry (MEMORY USAGE of
 * the stream over its length) on the Switchyard side; per stored job (used_memory growth) on the other.
 */
export const topicHistory: Scenario = {
  id: 11,
  title: 'Topic history',
  summary:
    '`publish` over HTTP, 256 in flight, into a CONSUMER queue of a topic keeping a history (the Switchyard ' +
    'column) vs the same gateway and topic without one (the raw column)',
  figures: [
    {
      key: 'rate',
      label: 'messages/s',
      unit: 'msg/s',
      digits: 0,
      targets: [{ kind: 'ratio-at-least', value: 0.8 }],
    },
    {
      key: 'bytes',
      label: 'Redis bytes per message: history entry (Switchyard) vs stored job (raw)',
      unit: 'B',
      digits: 0,
    },
  ],
  async open(bench) {
    const sides = await startSides(bench, 11, false);
    const { ingestMessages: count, windowMs: timeoutMs } = bench.sizes;
    return {
      close: sides.close,
      async run(side, { tag }) {
        const topology = {
          topic: tag,
          kind: 'FANOUT' as const,
          queues: [{ name: 'q', target: 'CONSUMER' as const }],
          ...(side === 'switchyard' ? { history: HISTORY } : {}),
        };
        return withTopology(sides.gateway, topology, async () => {
          // A warm-up of each side's own path, even in --quick (which skips the harness's warm-up round):
          // the side measured first would otherwise pay for the gateway's JIT alone.
          const warmed = await publishClosed(sides, tag, { count, timeoutMs });
          assertNoErrors('warm-up publish', warmed);
          const warm = warmed.done;
          const before = await usedMemory(bench.admin);
          const result = await publishClosed(sides, tag, { count, timeoutMs });
          assertNoErrors('publish', result);
          const rate = perSecond(result.done, result.elapsedMs);
          if (side === 'raw') {
            return { rate, bytes: ((await usedMemory(bench.admin)) - before) / result.done };
          }
          const [key] = await scanHistoryKey(bench.admin, tag);
          if (!key) throw new Error(`no history stream for topic ${tag}`);
          const length = await bench.admin.xlen(key);
          if (length !== warm + result.done) {
            throw new Error(`history holds ${length} of ${warm + result.done} published`);
          }
          const bytes = Number(await bench.admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
          return { rate, bytes: bytes / length };
        });
      },
    };
  },
};

/** The history stream of a topic, whatever the gateway's key prefix (`…{t:<topic>}:~history`). */
async function scanHistoryKey(admin: RedisClient, topic: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `*{t:${topic}}:~history`, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0' && found.length === 0);
  return found;
}
