import { startSides, usedMemory } from '../harness.js';
import type { LoopResult } from '../load/loops.js';
import { rssBytes } from '../proc-stats.js';
import { assertNoErrors, type Scenario } from '../scenario.js';
import { type ConsumerQueueSettings, withConsumerQueue, withRawQueues } from './common.js';

const MiB = 1024 * 1024;
const PER = 100_000;
const BATCH = 100;
const IN_FLIGHT = 8;

export const memory: Scenario = {
  id: 8,
  title: 'Memory',
  summary:
    'messages left waiting in a CONSUMER queue (filled with `publishBatch` of 100) vs a raw queue (filled with `addBulk` of 100); RSS of the gateway vs of the raw producer',
  figures: [
    {
      key: 'redis',
      label: 'Redis used_memory per 100k waiting',
      unit: 'MiB',
      digits: 1,
      targets: [{ kind: 'ratio-at-most', value: 1.5 }],
    },
    {
      key: 'rssGrowth',
      label: 'RSS growth per 100k (gateway; raw: producer)',
      unit: 'MiB',
      digits: 1,
    },
    { key: 'rss', label: 'RSS after (gateway; raw: producer)', unit: 'MiB', digits: 1 },
    // Its jobs skip BullMQ's prioritized set, as raw's jobs without a priority do.
    {
      key: 'redisFifo',
      label: 'Redis used_memory per 100k waiting, FIFO queue (maxPriority 0)',
      unit: 'MiB',
      digits: 1,
    },
  ],
  async open(bench) {
    const sides = await startSides(bench, 8, false);
    const batches = Math.ceil(bench.sizes.memoryMessages / BATCH);
    const timeoutMs = bench.sizes.runTimeoutMs;
    /** Fills the queue (or as much of it as the time bound allows) and scales to 100,000 messages. */
    const measure = async (pid: number, fill: () => Promise<LoopResult>) => {
      const redisBefore = await usedMemory(bench.admin);
      const rssBefore = rssBytes(pid);
      const filled = await fill();
      assertNoErrors('filling the queue', filled);
      const redisAfter = await usedMemory(bench.admin);
      const rssAfter = rssBytes(pid);
      const scale = PER / (filled.done * BATCH) / MiB;
      return {
        redis: (redisAfter - redisBefore) * scale,
        rssGrowth: (rssAfter - rssBefore) * scale,
        rss: rssAfter / MiB,
      };
    };
    return {
      close: sides.close,
      async run(side, { tag }) {
        if (side === 'switchyard') {
          const fill = (queue: ConsumerQueueSettings) =>
            withConsumerQueue(
              sides.gateway,
              tag,
              () =>
                measure(sides.gateway.child.pid, () =>
                  sides.switchyardLoad.call('publishBatchClosed', {
                    url: sides.gateway.url,
                    topic: tag,
                    batches,
                    batchSize: BATCH,
                    concurrency: IN_FLIGHT,
                    timeoutMs,
                  }),
                ),
              queue,
            );
          const measured = await fill({});
          const fifo = await fill({ maxPriority: 0 });
          return { ...measured, redisFifo: fifo.redis };
        }
        const raw = await withRawQueues(bench, sides, [tag], () =>
          measure(sides.rawLoad.pid, () =>
            sides.rawLoad.call('addBulkClosed', {
              redisUrl: bench.redisUrl,
              prefix: sides.rawPrefix,
              queue: tag,
              batches,
              batchSize: BATCH,
              concurrency: IN_FLIGHT,
              timeoutMs,
            }),
          ),
        );
        return { ...raw, redisFifo: raw.redis };
      },
    };
  },
};
