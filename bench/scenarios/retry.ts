import { resetReceiver, startSides } from '../harness.js';
import type { RawPolicy } from '../load/bull-load.js';
import type { LoopResult } from '../load/loops.js';
import type { Scenario } from '../scenario.js';
import { perSecond } from '../stats.js';
import {
  addClosed,
  publishClosed,
  sendAndDeliver,
  startRawWorkers,
  withRawQueues,
  withWebhookQueue,
} from './common.js';

const CONCURRENCY = 100;
/** The same policy on both sides: three attempts, a fixed 100 ms between them, no jitter. */
const ATTEMPTS = 3;
const DELAY_MS = 100;
const RAW_POLICY: RawPolicy = { attempts: ATTEMPTS, backoff: { type: 'fixed', delay: DELAY_MS } };
const POLICY = {
  maxAttempts: ATTEMPTS,
  backoff: 'FIXED',
  delayMs: DELAY_MS,
  maxDelayMs: DELAY_MS,
  jitter: false,
} as const;

export const retry: Scenario = {
  id: 7,
  title: 'Retry path',
  summary:
    'the receiver answers 500 to the first attempt of every message; 3 attempts, FIXED 100 ms backoff on both sides, concurrency 100; circuit breaker off',
  figures: [
    {
      key: 'rate',
      label: 'delivered/s',
      unit: 'msg/s',
      digits: 0,
      targets: [{ kind: 'ratio-at-least', value: 0.5 }],
    },
  ],
  async open(bench) {
    // A receiver that fails every first attempt is the one pattern that keeps a circuit breaker open
    // (every probe is some message's first attempt); this scenario measures the retry path instead.
    const sides = await startSides(bench, 7, true, { SWITCHYARD_CIRCUIT_FAILURES: '0' });
    const { retryMessages: count, windowMs: timeoutMs } = bench.sizes;
    const measure = async (load: () => Promise<LoopResult>) => {
      await resetReceiver(bench, { failFirst: true });
      const { sent, deliverMs, refused } = await sendAndDeliver(bench, 'send', 1, load);
      if (refused < sent) throw new Error(`only ${refused} of ${sent} first attempts were refused`);
      return { rate: perSecond(sent, deliverMs) };
    };
    return {
      close: sides.close,
      async run(side, { tag }) {
        if (side === 'switchyard') {
          return withWebhookQueue(
            bench,
            sides.gateway,
            tag,
            { concurrency: CONCURRENCY, retry: POLICY },
            () => measure(() => publishClosed(sides, tag, { count, timeoutMs })),
          );
        }
        return withRawQueues(bench, sides, [tag], async () => {
          await startRawWorkers(bench, sides, [tag], CONCURRENCY);
          return measure(() => addClosed(bench, sides, [tag], { count, timeoutMs, policy: RAW_POLICY }));
        });
      },
    };
  },
};
