import { describe, expect, it } from 'vitest';
import { createLiveBuffer } from '../../queues/live/buffer.js';

describe('createLiveBuffer', () => {
  it('should hand items over in order, at once to a waiting reader', async () => {
    const buffer = createLiveBuffer<number>();
    const waiting = buffer.next();
    buffer.push(1);
    buffer.push(2);
    expect(await waiting).toEqual({ value: { item: 1, droppedBefore: 0 }, done: false });
    expect(await buffer.next()).toEqual({ value: { item: 2, droppedBefore: 0 }, done: false });
  });

  it('should drop the oldest beyond maxItems and report how many before the next item', async () => {
    const buffer = createLiveBuffer<number>({ maxItems: 3 });
    for (let n = 0; n < 10; n++) buffer.push(n);
    expect(buffer.size).toBe(3);
    expect(buffer.dropped).toBe(7);
    expect((await buffer.next()).value).toEqual({ item: 7, droppedBefore: 7 });
    expect((await buffer.next()).value).toEqual({ item: 8, droppedBefore: 0 });
  });

  it('should bound the bytes held, keeping one oversized item alone', async () => {
    const buffer = createLiveBuffer<string>({ maxBytes: 10, sizeOf: (item) => item.length });
    buffer.push('aaaa');
    buffer.push('bbbb');
    buffer.push('cccc');
    expect(buffer.size).toBe(2);
    buffer.push('x'.repeat(50));
    expect(buffer.size).toBe(1);
    expect((await buffer.next()).value).toEqual({ item: 'x'.repeat(50), droppedBefore: 3 });
  });

  it('should answer done to a pending reader on return() and call onClose once', async () => {
    let closes = 0;
    const buffer = createLiveBuffer<number>({ onClose: () => closes++ });
    const waiting = buffer.next();
    await buffer.return();
    await buffer.return();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(closes).toBe(1);
    buffer.push(1);
    expect(buffer.size).toBe(0);
  });

  it('should hand over what it holds before ending, and fail a reader at once with an error', async () => {
    const ended = createLiveBuffer<number>();
    ended.push(1);
    ended.end();
    expect((await ended.next()).value).toEqual({ item: 1, droppedBefore: 0 });
    expect((await ended.next()).done).toBe(true);

    const failed = createLiveBuffer<number>();
    failed.push(1);
    failed.end(new Error('queue deleted'));
    await expect(failed.next()).rejects.toThrow('queue deleted');
    expect(failed.closed).toBe(true);
  });
});
