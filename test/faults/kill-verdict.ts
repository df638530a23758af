import { expect } from 'vitest';
import type { Sizing } from './scenarios/kills.js';
import type { LoadRunResult } from './scenarios/load-run.js';

/** The short form's sizing of a kill run; SWITCHYARD_FAULTS_SEED replays a failed run's fault moments. */
export const shortKillRun = (faults: number): Sizing => ({
  faults,
  ratePerSecond: 30,
  minGapMs: 1_500,
  maxGapMs: 4_000,
  settleTimeoutMs: 100_000,
  ...(process.env.SWITCHYARD_FAULTS_SEED ? { seed: Number(process.env.SWITCHYARD_FAULTS_SEED) } : {}),
});

/**
 * What every kill run promises: no acknowledged message lost; never an error for a stored publish (a
 * lost answer is settled, or said to be UNKNOWN: queues/publish/outcome.ts); no fan-out half stored or
 * stored twice; duplicates within what was in flight at the faults; every fault recovered from.
 */
export function expectNothingLost(result: LoadRunResult): void {
  const context = `seed ${result.seed}: ${JSON.stringify(result.verdict)}`;
  expect(result.verdict.published.ok, context).toBeGreaterThan(100);
  expect(result.lost, context).toBe(0);
  expect(result.verdict.erroredButStored, context).toEqual([]);
  expect(result.verdict.halfStored, context).toEqual([]);
  expect(result.verdict.doubleStored, context).toEqual([]);
  expect(result.duplicates, context).toBeLessThanOrEqual(result.totalInFlight);
  for (const fault of result.faults) expect(fault.recoveryMs, context).not.toBeNull();
}
