/**
 * The gathering of finished heads (queues/redis/ordering-finished.ts): what one turn of the event loop
 * reports for a queue is advanced in one call, and every caller hears that call's outcome.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { FinishedIds } from '../../queues/redis/ordering-advance.js';
import { gatherFinished } from '../../queues/redis/ordering-finished.js';

const asObject = (ids: FinishedIds) =>
  Object.fromEntries([...ids].map(([key, set]) => [key, [...set].sort()]));

describe('gatherFinished', () => {
  it('should advance what one turn reports for a queue in one call, and each queue apart', async () => {
    const calls: Array<{ queue: string; ids: Record<string, string[]> }> = [];
    const finished = gatherFinished(async (_topic, queue, ids) => {
      calls.push({ queue, ids: asObject(ids) });
    });
    await Promise.all([
      finished('t', 'q', 'k1', 'a'),
      finished('t', 'q', 'k2', 'b'),
      finished('t', 'q', 'k1', 'c'),
      finished('t', 'other', 'k1', 'd'),
    ]);
    expect(calls).toEqual([
      { queue: 'q', ids: { k1: ['a', 'c'], k2: ['b'] } },
      { queue: 'other', ids: { k1: ['d'] } },
    ]);
    // A later turn is a call of its own.
    await finished('t', 'q', 'k3', 'e');
    expect(calls).toHaveLength(3);
    expect(calls[2]).toEqual({ queue: 'q', ids: { k3: ['e'] } });
  });

  it('should settle every caller only once the shared call has ended', async () => {
    let release = () => {};
    const finished = gatherFinished(() => new Promise<void>((resolve) => (release = resolve)));
    const settled: string[] = [];
    const both = Promise.all([
      finished('t', 'q', 'k1', 'a').then(() => settled.push('a')),
      finished('t', 'q', 'k2', 'b').then(() => settled.push('b')),
    ]);
    await nextTurn();
    await nextTurn();
    expect(settled).toEqual([]);
    release();
    await both;
    expect(settled).toEqual(['a', 'b']);
  });

  it('should reject every caller of a call that failed, and gather the next turn afresh', async () => {
    let fail = true;
    const finished = gatherFinished(async () => {
      if (fail) throw new Error('Redis is unreachable');
    });
    const results = await Promise.allSettled([finished('t', 'q', 'k1', 'a'), finished('t', 'q', 'k2', 'b')]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(finished('t', 'q', 'k1', 'a')).resolves.toBeUndefined();
  });
});
