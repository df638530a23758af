import { resetReceiver, startSides } from '../harness.js';
import type { LoopResult } from '../load/loops.js';
import type { Scenario } from '../scenario.js';
import { perSecond } from '../stats.js';
import {
  addClosed,
  publishClosed,
  sendAndDeliver,
  startRawWorkers,
  withRawQueues,
  withTopology,
} from './common.js';

const QUEUES = 10;
/** Per queue, so 100 deliveries in flight in all, as in scenario 3. */
const CONCURRENCY = 10;

export const fanout: Scenario = {
  id: 4,
  title: 'Fan-out',
  summary:
    'publish (256 in flight) to a FANOUT topic with 10 WEBHOOK queues (concurrency 10 each), vs `Queue.add` to 10 queues at once plus 10 Workers',
  figures: [
    {
      key: 'publishRate',
      label: 'publishes/s',
      unit: 'msg/s',
      digits: 0,
      targets: [{ kind: 'ratio-at-least', value: 0.6 }],
    },
    {
      key: 'deliveryRate',
      label: 'deliveries/s',
      unit: 'msg/s',
      digits: 0,
      targets: [{ kind: 'ratio-at-least', value: 0.6 }],
    },
  ],
  async open(bench) {
    const sides = await startSides(bench, 4, true);
    const { fanoutPublishes: count, windowMs: timeoutMs } = bench.sizes;
    const names = Array.from({ length: QUEUES }, (_, n) => `q${n}`);
    const measure = async (load: () => Promise<LoopResult>) => {
      await resetReceiver(bench);
      const { sent, sendMs, deliverMs } = await sendAndDeliver(bench, 'publish', QUEUES, load);
      return { publishRate: perSecond(sent, sendMs), deliveryRate: perSecond(sent * QUEUES, deliverMs) };
    };
    return {
      close: sides.close,
      async run(side, { tag }) {
        if (side === 'switchyard') {
          const topology = {
            topic: tag,
            kind: 'FANOUT',
            queues: names.map((name) => ({
              name,
              target: 'WEBHOOK' as const,
              url: bench.receiverUrl,
              concurrency: CONCURRENCY,
            })),
          } as const;
          return withTopology(sides.gateway, topology, () =>
            measure(() => publishClosed(sides, tag, { count, timeoutMs })),
          );
        }
        const queues = names.map((name) => `${tag}-${name}`);
        return withRawQueues(bench, sides, queues, async () => {
          await startRawWorkers(bench, sides, queues, CONCURRENCY);
          return measure(() => addClosed(bench, sides, queues, { count, timeoutMs }));
        });
      },
    };
  },
};
