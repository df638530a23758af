import { resetReceiver, startSides, waitForDeliveries } from '../harness.js';
import type { OpenLoopResult } from '../load/loops.js';
import { assertComplete, type Figure, type Scenario } from '../scenario.js';
import { percentile } from '../stats.js';
import { startRawWorkers, withRawQueues, withWebhookQueue } from './common.js';

/** Offered loads, messages per second. */
const RATES = [500, 2_000] as const;
/** Deliveries in flight, on both sides, as in scenario 3. */
const CONCURRENCY = 100;
const PERCENTILES = [50, 95, 99] as const;

const key = (p: number, rate: number) => `p${p}at${rate}`;

function figures(): Figure[] {
  return RATES.flatMap((rate) => [
    ...PERCENTILES.map((p): Figure => {
      const targets: Figure['targets'] =
        rate === 500 && p === 99
          ? [{ kind: 'ratio-at-most', value: 2 }]
          : rate === 500 && p === 95
            ? [{ kind: 'switchyard-below', value: 10 }]
            : undefined;
      return {
        key: key(p, rate),
        label: `P${p} at ${rate}/s`,
        unit: 'ms',
        digits: 2,
        ...(targets ? { targets } : {}),
      };
    }),
    // An overloaded side falls behind the schedule; what it could not even take is counted, not hidden.
    {
      key: `skippedAt${rate}`,
      label: `not sent at ${rate}/s (sender over 5 s behind)`,
      unit: '%',
      digits: 1,
    },
  ]);
}

type Send = (rate: number, durationMs: number, warm: boolean) => Promise<OpenLoopResult>;

export const latency: Scenario = {
  id: 5,
  title: 'Latency',
  summary:
    'open loop at 500/s and 2,000/s: send time in the payload to arrival at the receiver, via a WEBHOOK queue (concurrency 100) vs `Queue.add` plus a Worker POSTing',
  figures: figures(),
  async open(bench) {
    const sides = await startSides(bench, 5, true);
    const { latencyWarmUpMs, latencyMeasureMs, runTimeoutMs } = bench.sizes;
    /** One side at every rate: warm up, measure, wait for the last delivery, read the percentiles. */
    const measure = async (send: Send) => {
      const result: Record<string, number> = {};
      for (const rate of RATES) {
        await resetReceiver(bench, { latency: true });
        const warm = await send(rate, latencyWarmUpMs, true);
        const measured = await send(rate, latencyMeasureMs, false);
        assertComplete(`open loop at ${rate}/s`, measured);
        assertComplete(`warm-up at ${rate}/s`, warm);
        result[`skippedAt${rate}`] = (100 * measured.skipped) / (measured.done + measured.skipped);
        await waitForDeliveries(bench, warm.done + measured.done, performance.now(), runTimeoutMs);
        const { latenciesUs } = await bench.receiver.call('stats', true);
        if (latenciesUs.length !== measured.done) {
          throw new Error(
            `receiver timed ${latenciesUs.length} of ${measured.done} measured messages at ${rate}/s`,
          );
        }
        const sorted = latenciesUs.sort((a, b) => a - b);
        for (const p of PERCENTILES) result[key(p, rate)] = percentile(sorted, p) / 1000;
      }
      return result;
    };
    return {
      close: sides.close,
      async run(side, { tag }) {
        if (side === 'switchyard') {
          return withWebhookQueue(bench, sides.gateway, tag, { concurrency: CONCURRENCY }, () =>
            measure((ratePerSecond, durationMs, warm) =>
              sides.switchyardLoad.call('publishOpen', {
                url: sides.gateway.url,
                topic: tag,
                ratePerSecond,
                durationMs,
                warm,
              }),
            ),
          );
        }
        return withRawQueues(bench, sides, [tag], async () => {
          await startRawWorkers(bench, sides, [tag], CONCURRENCY);
          return measure((ratePerSecond, durationMs, warm) =>
            sides.rawLoad.call('addOpen', {
              redisUrl: bench.redisUrl,
              prefix: sides.rawPrefix,
              queue: tag,
              ratePerSecond,
              durationMs,
              warm,
            }),
          );
        });
      },
    };
  },
};
