/**
 * Fault 2 (issue 19), the embedded default: with REDIS_URL unset the gateway runs its own redis-server.
 * A kill -9 of the gateway must not leave that redis-server running on its own (holding the data
 * folder, so that the next start would run a second server on the same AOF), and the next start must
 * find every acknowledged message.
 */
import { describe, expect, it } from 'vitest';
import { runEmbeddedKill } from './scenarios/embedded.js';

describe('fault: kill -9 of a gateway running its embedded Redis', () => {
  it('should leave no orphan redis-server, and the next start should find every acknowledged message', async () => {
    const result = await runEmbeddedKill(40);
    console.log(`embedded Redis: ${JSON.stringify(result)}`);
    const context = JSON.stringify(result);
    expect(result.exit.signal, context).toBe('SIGKILL');
    expect(result.orphanGoneMs, `redis-server outlived its gateway: ${context}`).not.toBeNull();
    expect(result.secondRedisPid, context).not.toBe(result.firstRedisPid);
    expect(result.found, context).toBe(result.published);
  }, 90_000);
});
