import { assertNoErrors, type Scenario } from '../scenario.js';
import { perSecond } from '../stats.js';
import {
  FLOOR_FIGURE,
  startSidesWithFloor,
  withConsumerQueue,
  withFloorQueue,
  withRawQueues,
} from './common.js';

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
    FLOOR_FIGURE,
  ],
  async open(bench) {
    const { sides, floor, close } = await startSidesWithFloor(bench, 2);
    const {
      ingestBatches: batches,
      batchSize,
      batchesInFlight: concurrency,
      windowMs: timeoutMs,
    } = bench.sizes;
    const publishBatches = async (url: string, topic: string) => {
      const result = await sides.switchyardLoad.call('publishBatchClosed', {
        url,
        topic,
        batches,
        batchSize,
        concurrency,
        timeoutMs,
      });
      assertNoErrors(`publishBatch to ${url}`, result);
      return perSecond(result.done * batchSize, result.elapsedMs);
    };
    return {
      close,
      async run(side, { tag }) {
        if (side === 'switchyard') {
          const rate = await withConsumerQueue(sides.gateway, tag, () =>
            publishBatches(sides.gateway.url, tag),
          );
          const floorRate = await withFloorQueue(floor, tag, () => publishBatches(floor.url, tag));
          return { rate, floorRate };
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
          const rate = perSecond(result.done * batchSize, result.elapsedMs);
          return { rate, floorRate: rate };
        });
      },
    };
  },
};
