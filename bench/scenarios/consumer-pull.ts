import { startSides } from '../harness.js';
import { assertComplete, type Scenario } from '../scenario.js';
import { perSecond } from '../stats.js';
import { withConsumerQueue, withRawQueues } from './common.js';

/** Receive/ack loops side by side, and deliveries per receive, on both sides. */
const LOOPS = 4;
const MAX = 100;
/** Filling the queue is not measured; it goes in batches to be quick. */
const FILL_BATCH = 100;
const FILL_IN_FLIGHT = 8;

export const consumerPull: Scenario = {
  id: 6,
  title: 'Consumer pull',
  summary:
    "4 loops of `receive(max: 100)` then the batch's acks as aliases of one request, vs 4 loops of 100 `Worker.getNextJob` then `moveToCompleted` of all 100",
  figures: [
    {
      key: 'rate',
      label: 'acked/s',
      unit: 'msg/s',
      digits: 0,
      targets: [{ kind: 'ratio-at-least', value: 0.5 }],
    },
  ],
  async open(bench) {
    const sides = await startSides(bench, 6, false);
    const count = bench.sizes.pullMessages;
    const timeoutMs = bench.sizes.runTimeoutMs;
    const batches = Math.ceil(count / FILL_BATCH);
    const pulled = (result: { acked: number; elapsedMs: number; cutShort: boolean }) => {
      assertComplete('receive/ack', result);
      return { rate: perSecond(result.acked, result.elapsedMs) };
    };
    return {
      close: sides.close,
      async run(side, { tag }) {
        if (side === 'switchyard') {
          return withConsumerQueue(sides.gateway, tag, async () => {
            const filled = await sides.switchyardLoad.call('publishBatchClosed', {
              url: sides.gateway.url,
              topic: tag,
              batches,
              batchSize: FILL_BATCH,
              concurrency: FILL_IN_FLIGHT,
              timeoutMs,
            });
            assertComplete('filling the queue', filled);
            return pulled(
              await sides.switchyardLoad.call('pullGraphql', {
                url: sides.gateway.url,
                topic: tag,
                queue: 'q',
                loops: LOOPS,
                max: MAX,
                expected: batches * FILL_BATCH,
                timeoutMs,
              }),
            );
          });
        }
        const target = { redisUrl: bench.redisUrl, prefix: sides.rawPrefix };
        return withRawQueues(bench, sides, [tag], async () => {
          const filled = await sides.rawLoad.call('addBulkClosed', {
            ...target,
            queue: tag,
            batches,
            batchSize: FILL_BATCH,
            concurrency: FILL_IN_FLIGHT,
            timeoutMs,
          });
          assertComplete('filling the queue', filled);
          return pulled(
            await sides.rawLoad.call('pullRaw', {
              ...target,
              queue: tag,
              loops: LOOPS,
              max: MAX,
              expected: batches * FILL_BATCH,
              timeoutMs,
            }),
          );
        });
      },
    };
  },
};
