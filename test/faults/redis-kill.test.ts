/**
 * Fault 2 (issue 19), short form: redis-server SIGKILLed twice under load and started again from its
 * append-only file (appendfsync always). `npm run faults` runs 10. The gateways are not restarted.
 */
import { describe, expect, it } from 'vitest';
import { formatLoadRun } from './report.js';
import { runRedisKill } from './scenarios/kills.js';

describe('fault: redis-server killed under load', () => {
  it('should lose no acknowledged message, and the gateways carry on by themselves', async () => {
    const result = await runRedisKill({
      faults: 2,
      ratePerSecond: 30,
      minGapMs: 1_500,
      maxGapMs: 4_000,
      settleTimeoutMs: 100_000,
      // SWITCHYARD_FAULTS_SEED replays a failed run's fault moments (its seed is in the failure message).
      ...(process.env.SWITCHYARD_FAULTS_SEED ? { seed: Number(process.env.SWITCHYARD_FAULTS_SEED) } : {}),
    });
    console.log(formatLoadRun('redis-server killed under load', result));
    const context = `seed ${result.seed}: ${JSON.stringify(result.verdict)}`;
    expect(result.verdict.published.ok, context).toBeGreaterThan(100);
    expect(result.lost, context).toBe(0);
    // A publish whose answer Redis took with it answers either its message id (Redis came back and
    // said it was stored) or UNAVAILABLE with outcome UNKNOWN (counted as unanswered): never an error
    // for a stored message (queues/publish/outcome.ts, test/engine/lost-answer.test.ts).
    expect(result.verdict.erroredButStored, context).toEqual([]);
    expect(result.verdict.halfStored, context).toEqual([]);
    expect(result.verdict.doubleStored, context).toEqual([]);
    expect(result.duplicates, context).toBeLessThanOrEqual(result.totalInFlight);
    for (const fault of result.faults) expect(fault.recoveryMs, context).not.toBeNull();
  }, 200_000);
});
