import { assertNoErrors, type Scenario } from '../scenario.js';
import { perSecond } from '../stats.js';
import {
  addClosed,
  FLOOR_FIGURE,
  publishClosed,
  startSidesWithFloor,
  withConsumerQueue,
  withFloorQueue,
  withRawQueues,
} from './common.js';

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
    FLOOR_FIGURE,
  ],
  async open(bench) {
    const { sides, floor, close } = await startSidesWithFloor(bench, 1);
    const { ingestMessages: count, windowMs: timeoutMs } = bench.sizes;
    const run = { count, timeoutMs };
    return {
      close,
      async run(side, { tag }) {
        if (side === 'switchyard') {
          const gateway = await withConsumerQueue(sides.gateway, tag, () => publishClosed(sides, tag, run));
          assertNoErrors('publish', gateway);
          const bare = await withFloorQueue(floor, tag, () => publishClosed(sides, tag, run, floor.url));
          assertNoErrors('floor publish', bare);
          return {
            rate: perSecond(gateway.done, gateway.elapsedMs),
            floorRate: perSecond(bare.done, bare.elapsedMs),
          };
        }
        return withRawQueues(bench, sides, [tag], async () => {
          const result = await addClosed(bench, sides, [tag], run);
          assertNoErrors('Queue.add', result);
          const rate = perSecond(result.done, result.elapsedMs);
          return { rate, floorRate: rate };
        });
      },
    };
  },
};
