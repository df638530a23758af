/**
 * Fault 1 (issue 19), short form: three kill -9s of a gateway under load. `npm run faults` runs 20.
 * The promise: every publish answered with a message id is delivered or dead-lettered in every queue
 * it was routed to; a publish answered with an error is in no queue; duplicates stay within what was
 * in flight at the kills.
 */
import { describe, expect, it } from 'vitest';
import { formatLoadRun } from './report.js';
import { runGatewayKill } from './scenarios/kills.js';

describe('fault: kill -9 of a gateway under load', () => {
  it('should lose no acknowledged message and duplicate no more than was in flight at the kills', async () => {
    const result = await runGatewayKill({
      faults: 3,
      ratePerSecond: 30,
      minGapMs: 1_500,
      maxGapMs: 4_000,
      settleTimeoutMs: 100_000,
      // SWITCHYARD_FAULTS_SEED replays a failed run's fault moments (its seed is in the failure message).
      ...(process.env.SWITCHYARD_FAULTS_SEED ? { seed: Number(process.env.SWITCHYARD_FAULTS_SEED) } : {}),
    });
    console.log(formatLoadRun('kill -9 of a gateway under load', result));
    const context = `seed ${result.seed}: ${JSON.stringify(result.verdict)}`;
    expect(result.verdict.published.ok, context).toBeGreaterThan(100);
    expect(result.lost, context).toBe(0);
    expect(result.verdict.erroredButStored, context).toEqual([]);
    expect(result.verdict.halfStored, context).toEqual([]);
    expect(result.verdict.doubleStored, context).toEqual([]);
    expect(result.duplicates, context).toBeLessThanOrEqual(result.totalInFlight);
    for (const kill of result.faults) expect(kill.recoveryMs, context).not.toBeNull();
  }, 200_000);
});
