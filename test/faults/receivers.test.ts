/**
 * Fault 5 (issue 19): misbehaving webhook receivers. Each is classified as docs/DELIVERY.md says, no
 * attempt holds a worker slot past the queue's ackTimeoutMs, and the gateway's RSS stays bounded while
 * a receiver answers 100 MB.
 */
import { describe, expect, it } from 'vitest';
import { formatReceivers } from './report.js';
import { runReceivers } from './scenarios/receivers.js';

const ACK_TIMEOUT_MS = 2_000;
/** Slack over ackTimeoutMs for a loaded 2-core machine: the promise is "not held for ever". */
const SLACK_MS = 1_500;

describe('fault: misbehaving webhook receivers', () => {
  it('should classify each as DELIVERY.md says, free the worker slot by ackTimeoutMs, and keep RSS bounded', async () => {
    const result = await runReceivers({ ackTimeoutMs: ACK_TIMEOUT_MS, messagesPerQueue: 2 });
    console.log(formatReceivers(result));
    const context = JSON.stringify(result);
    const outcome = (name: string) => result.behaviours.find((entry) => entry.behaviour === name)?.outcomes;
    expect(outcome('hang'), context).toEqual({ TIMEOUT: 2 });
    expect(outcome('reset'), context).toEqual({ DEPENDENCY: 2 });
    // The status line is the receiver's answer: a 2xx is a delivery, whatever then happens to the body
    // (cut off, trickled, 100 MB), and the gateway does not wait for the body or read it into memory.
    expect(outcome('reset-mid-body'), context).toEqual({ DELIVERED: 2 });
    expect(outcome('trickle'), context).toEqual({ DELIVERED: 2 });
    expect(outcome('garbage'), context).toEqual({ DEPENDENCY: 2 });
    expect(outcome('redirect'), context).toEqual({ REJECTED: 2 });
    expect(outcome('huge'), context).toEqual({ DELIVERED: 2 });
    expect(result.hugeBytesWritten, context).toBeLessThan(2 * 100 * 1024 * 1024);
    for (const entry of result.behaviours) {
      expect(entry.settledMs, context).not.toBeNull();
      if (entry.maxAttemptMs !== null)
        expect(entry.maxAttemptMs, context).toBeLessThan(ACK_TIMEOUT_MS + SLACK_MS);
    }
    expect(result.rss.maxBytes - result.rss.beforeBytes, context).toBeLessThan(64 * 1024 * 1024);
  }, 120_000);
});
