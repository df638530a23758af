import { assertNoErrors, type Scenario } from '../scenario.js';
import { perSecond } from '../stats.js';
import {
  FLOOR_FIGURE,
  INGEST_CPU_FIGURES,
  type Ingested,
  measureIngestCpu,
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
    ...INGEST_CPU_FIGURES,
  ],
  async open(bench) {
    const { sides, floor, close } = await startSidesWithFloor(bench, 2);
    const {
      ingestBatches: batches,
      batchSize,
      batchesInFlight: concurrency,
      windowMs: timeoutMs,
    } = bench.sizes;
    const publishBatches = async (url: string, topic: string): Promise<Ingested> => {
      const result = await sides.switchyardLoad.call('publishBatchClosed', {
        url,
        topic,
        batches,
        batchSize,
        concurrency,
        timeoutMs,
      });
      assertNoErrors(`publishBatch to ${url}`, result);
      return { messages: result.done * batchSize, elapsedMs: result.elapsedMs };
    };
    return {
      close,
      async run(side, { tag }) {
        if (side === 'switchyard') {
          const { messages, elapsedMs, ...cpu } = await withConsumerQueue(sides.gateway, tag, () =>
            measureIngestCpu(
              bench,
              { service: sides.gateway.child.pid, load: sides.switchyardLoad.pid },
              () => publishBatches(sides.gateway.url, tag),
            ),
          );
          const bare = await withFloorQueue(floor, tag, () => publishBatches(floor.url, tag));
          return {
            rate: perSecond(messages, elapsedMs),
            floorRate: perSecond(bare.messages, bare.elapsedMs),
            ...cpu,
          };
        }
        return withRawQueues(bench, sides, [tag], async () => {
          const { messages, elapsedMs, ...cpu } = await measureIngestCpu(
            bench,
            { service: sides.rawLoad.pid },
            async () => {
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
              return { messages: result.done * batchSize, elapsedMs: result.elapsedMs };
            },
          );
          const rate = perSecond(messages, elapsedMs);
          return { rate, floorRate: rate, ...cpu };
        });
      },
    };
  },
};
