import { assertNoErrors, type Figure, type Scenario } from '../scenario.js';
import { perSecond } from '../stats.js';
import {
  type ConsumerQueueSettings,
  FLOOR_FIGURE,
  INGEST_CPU_FIGURES,
  type Ingested,
  measureIngestCpu,
  startSidesWithFloor,
  withConsumerQueue,
  withFloorQueue,
  withRawQueues,
} from './common.js';

/**
 * The same load into a FIFO queue (`maxPriority: 0`), whose jobs go to BullMQ's wait list as raw
 * BullMQ's do here, instead of the prioritized set every default queue's job goes to. In the raw
 * column, raw's figure again: its jobs carry no priority either.
 */
const FIFO_FIGURE: Figure = {
  key: 'fifoRate',
  label: 'messages/s into a FIFO queue (maxPriority 0)',
  unit: 'msg/s',
  digits: 0,
};

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
    FIFO_FIGURE,
    { key: 'cpuRedisFifo', label: 'CPU s/1k: Redis, FIFO queue', unit: 's', digits: 4 },
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
          const intoQueue = (queue: ConsumerQueueSettings) =>
            withConsumerQueue(
              sides.gateway,
              tag,
              () =>
                measureIngestCpu(
                  bench,
                  { service: sides.gateway.child.pid, load: sides.switchyardLoad.pid },
                  () => publishBatches(sides.gateway.url, tag),
                ),
              queue,
            );
          const { messages, elapsedMs, ...cpu } = await intoQueue({});
          const fifo = await intoQueue({ maxPriority: 0 });
          const bare = await withFloorQueue(floor, tag, () => publishBatches(floor.url, tag));
          return {
            rate: perSecond(messages, elapsedMs),
            floorRate: perSecond(bare.messages, bare.elapsedMs),
            ...cpu,
            fifoRate: perSecond(fifo.messages, fifo.elapsedMs),
            cpuRedisFifo: fifo.cpuRedis,
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
          return { rate, floorRate: rate, ...cpu, fifoRate: rate, cpuRedisFifo: cpu.cpuRedis };
        });
      },
    };
  },
};
