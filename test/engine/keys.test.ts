import { QueueKeys } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../queues/redis/keys.js';

describe('keys.bull', () => {
  it("should name a queue's BullMQ keys exactly as BullMQ's own QueueKeys does", () => {
    const keys = createKeys('sy-test');
    const ours = keys.bull('orders.eu', 'billing');
    const bull = new QueueKeys(keys.bullPrefix('orders.eu'));
    const theirs = bull.getKeys('billing');
    expect(ours.jobPrefix).toBe(theirs['']);
    for (const type of [
      'failed',
      'events',
      'wait',
      'paused',
      'prioritized',
      'active',
      'meta',
      'marker',
      'limiter',
    ] as const) {
      expect(ours[type]).toBe(theirs[type]);
    }
    expect(ours.job('42')).toBe(bull.toKey('billing', '42'));
    expect(ours.logs('42')).toBe(bull.toKey('billing', '42:logs'));
    expect(ours.lock('42')).toBe(bull.toKey('billing', '42:lock'));
  });
});
