import { startSides } from '../harness.js';
import { assertNoErrors, type Scenario } from '../scenario.js';
import { perSecond } from '../stats.js';
import { withConsumerQueue, withRawQueues } from './common.js';

export const ingestBatch: Scenario = {
  id: 2,
  title: 'Ingest, batch',
  summary: '`publishBatch` of 100 vs `Queue.addBulk` of 100, 16 batches in flight each',
  figures: [
    {
      key: 'rate',
      label: 'messages/s',
      unit: 'msg/s',
      digits: 0,
      targets: [{ kind: 'ratio-at-least', value: 0.8 }],
    },
  ],
  async open(bench) {
    const sides = await startSides(bench, 2, false);
    const {
      ingestBatches: batches,
      batchSize,
      batchesInFlight: concurrency,
      windowMs: timeoutMs,
    } = bench.sizes;
    return {
      close: sides.close,
      async run(side, { tag }) {
        if (side === 'switchyard') {
          return withConsumerQueue(sides.gateway, tag, async () => {
            const result = await sides.switchyardLoad.call('publishBatchClosed', {
              url: sides.gateway.url,
              topic: tag,
              batches,
              batchSize,
              concurrency,
              timeoutMs,
            });
            assertNoErrors('publishBatch', result);
            return { rate: perSecond(result.done * batchSize, result.elapsedMs) };
          });
        }
        return withRawQueues(bench, sides, [tag], async () => {
          const result = await sides.rawLoad.call('addBulkClosed', {
            redisUrl: bench.redisUrl,
            prefix: sides.rawPrefix,
            queue: tag,
            batches,
            batchSize,
            concurrency,
            timeoutMs,
          });
          assertNoErrors('Queue.addBulk', result);
          return { rate: perSecond(result.done * batchSize, result.elapsedMs) };
        });
      },
    };
  },
};
