import { resetReceiver, startSides } from '../harness.js';
import type { RoundTripResult } from '../load/request-load.js';
import { assertComplete, type Figure, type Scenario } from '../scenario.js';
import { percentile } from '../stats.js';
import { startRawWorkers, withRawQueues, withWebhookQueue } from './common.js';

/** Requests per second, as the issue asks (21). */
const RATE = 200;
/** Deliveries in flight on both sides, as in scenario 5. */
const CONCURRENCY = 100;

const FIGURES: Figure[] = [
  { key: 'p50', label: `round trip P50 at ${RATE}/s`, unit: 'ms', digits: 2 },
  {
    key: 'p99',
    label: `round trip P99 at ${RATE}/s`,
    unit: 'ms',
    digits: 2,
    targets: [{ kind: 'ratio-at-most', value: 1.5 }],
  },
  { key: 'skipped', label: `not sent at ${RATE}/s (sender over 5 s behind)`, unit: '%', digits: 1 },
];

type Send = (durationMs: number, warm: boolean) => Promise<RoundTripResult>;

export const requestReply: Scenario = {
  id: 9,
  title: 'Request-reply round trip',
  summary: `open loop at ${RATE}/s, request to answer at the caller: \`request\` answered by a WEBHOOK queue's 2xx body (concurrency ${CONCURRENCY}) vs \`Queue.add\` + \`job.waitUntilFinished(queueEvents)\` answered by a Worker POSTing and returning the body`,
  figures: FIGURES,
  async open(bench) {
    const sides = await startSides(bench, 9, true);
    const { latencyWarmUpMs, latencyMeasureMs } = bench.sizes;
    const measure = async (send: Send) => {
      await resetReceiver(bench, { reply: true });
      const warm = await send(latencyWarmUpMs, true);
      assertComplete('warm-up', warm);
      const measured = await send(latencyMeasureMs, false);
      assertComplete(`open loop at ${RATE}/s`, measured);
      const sorted = measured.latenciesUs.sort((a, b) => a - b);
      return {
        p50: percentile(sorted, 50) / 1000,
        p99: percentile(sorted, 99) / 1000,
        skipped: (100 * measured.skipped) / (measured.done + measured.skipped),
      };
    };
    return {
      close: sides.close,
      async run(side, { tag }) {
        if (side === 'switchyard') {
          return withWebhookQueue(bench, sides.gateway, tag, { concurrency: CONCURRENCY }, () =>
            measure((durationMs, warm) =>
              sides.switchyardLoad.call('requestOpen', {
                url: sides.gateway.url,
                topic: tag,
                ratePerSecond: RATE,
                durationMs,
                warm,
              }),
            ),
          );
        }
        return withRawQueues(bench, sides, [tag], async () => {
          await startRawWorkers(bench, sides, [tag], CONCURRENCY, true);
          return measure((durationMs, warm) =>
            sides.rawLoad.call('addAndWaitOpen', {
              redisUrl: bench.redisUrl,
              prefix: sides.rawPrefix,
              queue: tag,
              ratePerSecond: RATE,
              durationMs,
              warm,
            }),
          );
        });
      },
    };
  },
};
