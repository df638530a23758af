/**
 * Fault 2 (issue 19), short form: redis-server SIGKILLed twice under load and started again from its
 * append-only file (appendfsync always). `npm run faults` runs 10. The gateways are not restarted.
 */
import { describe, it } from 'vitest';
import { expectNothingLost, shortKillRun } from './kill-verdict.js';
import { formatLoadRun } from './report.js';
import { runRedisKill } from './scenarios/kills.js';

describe('fault: redis-server killed under load', () => {
  it('should lose no acknowledged message, and the gateways carry on by themselves', async () => {
    const result = await runRedisKill(shortKillRun(2));
    console.log(formatLoadRun('redis-server killed under load', result));
    expectNothingLost(result);
  }, 200_000);
});
