import { startSides } from '../harness.js';
import { assertNoErrors, type Scenario } from '../scenario.js';
import { perSecond } from '../stats.js';
import { addClosed, publishClosed, withConsumerQueue, withRawQueues } from './common.js';

export const ingestSingle: Scenario = {
  id: 1,
  title: 'Ingest, single',
  summary:
    '`publish` over HTTP (keep-alive), 256 in flight, into a CONSUMER queue, vs `Queue.add`, 256 in flight',
  figures: [
    {
      key: 'rate',
      label: 'messages/s',
      unit: 'msg/s',
      digits: 0,
      targets: [{ kind: 'ratio-at-least', value: 0.4 }],
    },
  ],
  async open(bench) {
    const sides = await startSides(bench, 1, false);
    const { ingestMessages: count, windowMs: timeoutMs } = bench.sizes;
    return {
      close: sides.close,
      async run(side, { tag }) {
        if (side === 'switchyard') {
          return withConsumerQueue(sides.gateway, tag, async () => {
            const result = await publishClosed(sides, tag, { count, timeoutMs });
            assertNoErrors('publish', result);
            return { rate: perSecond(result.done, result.elapsedMs) };
          });
        }
        return withRawQueues(bench, sides, [tag], async () => {
          const result = await addClosed(bench, sides, [tag], { count, timeoutMs });
          assertNoErrors('Queue.add', result);
          return { rate: perSecond(result.done, result.elapsedMs) };
        });
      },
    };
  },
};
