import { resetReceiver, startSides } from '../harness.js';
import type { LoopResult } from '../load/loops.js';
import { cpuMeter } from '../proc-stats.js';
import type { Scenario } from '../scenario.js';
import { perSecond } from '../stats.js';
import {
  addClosed,
  cpuPerThousand,
  gatewayPids,
  publishClosed,
  sendAndDeliver,
  startRawWorkers,
  withRawQueues,
  withWebhookQueue,
} from './common.js';

/** Deliveries in flight, on both sides. */
const CONCURRENCY = 100;

export const endToEnd: Scenario = {
  id: 3,
  title: 'End to end, webhook',
  summary:
    'publish (256 in flight) into a WEBHOOK queue (concurrency 100) whose receiver answers 204, vs `Queue.add` plus a Worker (concurrency 100) POSTing the same body',
  figures: [
    {
      key: 'rate',
      label: 'delivered/s',
      unit: 'msg/s',
      digits: 0,
      targets: [{ kind: 'ratio-at-least', value: 0.5 }],
    },
    { key: 'cpuService', label: 'CPU s/1k: gateway (raw: worker process)', unit: 's', digits: 3 },
    { key: 'cpuProducer', label: 'CPU s/1k: load generator', unit: 's', digits: 3 },
    { key: 'cpuReceiver', label: 'CPU s/1k: receiver', unit: 's', digits: 3 },
    { key: 'cpuRedis', label: 'CPU s/1k: Redis', unit: 's', digits: 3 },
  ],
  async open(bench) {
    const sides = await startSides(bench, 3, true);
    const { endToEndMessages: count, windowMs: timeoutMs } = bench.sizes;
    const measure = async (
      servicePid: number | readonly number[],
      producerPid: number,
      load: () => Promise<LoopResult>,
    ) => {
      await resetReceiver(bench);
      const cpu = cpuMeter({
        service: servicePid,
        producer: producerPid,
        receiver: bench.receiver.pid,
        redis: bench.redisPid,
      });
      const { sent, deliverMs } = await sendAndDeliver(bench, 'send', 1, load);
      const used = cpu();
      return {
        rate: perSecond(sent, deliverMs),
        cpuService: cpuPerThousand(used.service, sent),
        cpuProducer: cpuPerThousand(used.producer, sent),
        cpuReceiver: cpuPerThousand(used.receiver, sent),
        cpuRedis: cpuPerThousand(used.redis, sent),
      };
    };
    return {
      close: sides.close,
      async run(side, { tag }) {
        if (side === 'switchyard') {
          // With several instances each runs a worker on the queue (concurrency 100 each) and the
          // publishes are spread over them; their CPU is summed.
          return withWebhookQueue(bench, sides.gateways, tag, { concurrency: CONCURRENCY }, () =>
            measure(gatewayPids(sides), sides.switchyardLoad.pid, () =>
              publishClosed(sides, tag, { count, timeoutMs }),
            ),
          );
        }
        const workers = sides.rawWorkers;
        if (!workers) throw new Error('raw workers are missing');
        return withRawQueues(bench, sides, [tag], async () => {
          await startRawWorkers(bench, sides, [tag], CONCURRENCY);
          return measure(workers.pid, sides.rawLoad.pid, () =>
            addClosed(bench, sides, [tag], { count, timeoutMs }),
          );
        });
      },
    };
  },
};
