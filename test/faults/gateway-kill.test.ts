/**
 * Fault 1 (issue 19), short form: three kill -9s of a gateway under load. `npm run faults` runs 20.
 * The promise: every publish answered with a message id is delivered or dead-lettered in every queue
 * it was routed to; a publish answered with an error is in no queue; duplicates stay within what was
 * in flight at the kills.
 */
import { describe, it } from 'vitest';
import { expectNothingLost, shortKillRun } from './kill-verdict.js';
import { formatLoadRun } from './report.js';
import { runGatewayKill } from './scenarios/kills.js';

describe('fault: kill -9 of a gateway under load', () => {
  it('should lose no acknowledged message and duplicate no more than was in flight at the kills', async () => {
    const result = await runGatewayKill(shortKillRun(3));
    console.log(formatLoadRun('kill -9 of a gateway under load', result));
    expectNothingLost(result);
  }, 200_000);
});
