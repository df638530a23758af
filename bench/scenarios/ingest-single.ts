import { assertNoErrors, type Scenario } from '../scenario.js';
import { perSecond } from '../stats.js';
import {
  addClosed,
  FLOOR_FIGURE,
  gatewayPids,
  INGEST_CPU_FIGURES,
  measureIngestCpu,
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
    ...INGEST_CPU_FIGURES,
  ],
  async open(bench) {
    const { sides, floor, close } = await startSidesWithFloor(bench, 1);
    const { ingestMessages: count, windowMs: timeoutMs } = bench.sizes;
    const run = { count, timeoutMs };
    return {
      close,
      async run(side, { tag }) {
        if (side === 'switchyard') {
          const { messages, elapsedMs, ...cpu } = await withConsumerQueue(sides.gateways, tag, () =>
            measureIngestCpu(
              bench,
              { service: gatewayPids(sides), load: sides.switchyardLoad.pid },
              async () => {
                const result = await publishClosed(sides, tag, run);
                assertNoErrors('publish', result);
                return { messages: result.done, elapsedMs: result.elapsedMs };
              },
            ),
          );
          const bare = await withFloorQueue(floor, tag, () => publishClosed(sides, tag, run, floor.url));
          assertNoErrors('floor publish', bare);
          return {
            rate: perSecond(messages, elapsedMs),
            floorRate: perSecond(bare.done, bare.elapsedMs),
            ...cpu,
          };
        }
        return withRawQueues(bench, sides, [tag], async () => {
          const { messages, elapsedMs, ...cpu } = await measureIngestCpu(
            bench,
            { service: sides.rawLoad.pid },
            async () => {
              const result = await addClosed(bench, sides, [tag], run);
              assertNoErrors('Queue.add', result);
              return { messages: result.done, elapsedMs: result.elapsedMs };
            },
          );
          const rate = perSecond(messages, elapsedMs);
          return { rate, floorRate: rate, ...cpu };
        });
      },
    };
  },
};
