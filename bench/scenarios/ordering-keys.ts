import { startSides } from '../harness.js';
import { assertComplete, type Scenario } from '../scenario.js';
import { perSecond } from '../stats.js';
import { withConsumerQueue } from './common.js';

/** Ordering keys the messages are spread over, in turn. */
const KEYS = 1_000;
/** Receive/ack loops, and deliveries per receive, as in scenario 6. */
const LOOPS = 4;
const MAX = 100;
const FILL_BATCH = 100;
const FILL_IN_FLIGHT = 8;

/**
 * Ordering keys (docs/PATTERNS.md#ordering-keys): the same gateway and CONSUMER queue, filled and
 * drained the same way, once with every message on one of 1,000 ordering keys (the "switchyard"
 * column) and once without keys (the "raw" column), so the ratio is what ordering keys cost.
 */
export const orderingKeys: Scenario = {
  id: 10,
  title: 'Ordering keys',
  summary:
    'publishBatch of 100 then 4 loops of `receive(max: 100)` + acks, with every message on one of 1,000 ordering keys ' +
    '(the Switchyard column) vs the same gateway and queue without ordering keys (the raw column)',
  figures: [
    {
      key: 'publish',
      label: 'published/s',
      unit: 'msg/s',
      digits: 0,
      targets: [{ kind: 'ratio-at-least', value: 0.5 }],
    },
    {
      key: 'rate',
      label: 'acked/s',
      unit: 'msg/s',
      digits: 0,
      targets: [{ kind: 'ratio-at-least', value: 0.5 }],
    },
  ],
  async open(bench) {
    const sides = await startSides(bench, 10, false);
    // At least five messages a key, so a key's messages wait in its line behind its head.
    const batches = Math.ceil(Math.max(bench.sizes.pullMessages, 5 * KEYS) / FILL_BATCH);
    const timeoutMs = bench.sizes.runTimeoutMs;
    return {
      close: sides.close,
      async run(side, { tag }) {
        return withConsumerQueue(sides.gateway, tag, async () => {
          const filled = await sides.switchyardLoad.call('publishBatchClosed', {
            url: sides.gateway.url,
            topic: tag,
            batches,
            batchSize: FILL_BATCH,
            concurrency: FILL_IN_FLIGHT,
            timeoutMs,
            orderingKeys: side === 'switchyard' ? KEYS : undefined,
          });
          assertComplete('filling the queue', filled);
          const pulled = await sides.switchyardLoad.call('pullGraphql', {
            url: sides.gateway.url,
            topic: tag,
            queue: 'q',
            loops: LOOPS,
            max: MAX,
            expected: batches * FILL_BATCH,
            timeoutMs,
          });
          assertComplete('receive/ack', pulled);
          return {
            publish: perSecond(batches * FILL_BATCH, filled.elapsedMs),
            rate: perSecond(pulled.acked, pulled.elapsedMs),
          };
        });
      },
    };
  },
};
