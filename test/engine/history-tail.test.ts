import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import type { MessageRecord } from '../../queues/core/types.js';
import type { Engine } from '../../queues/engine/engine.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import { expectRefusal, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

type Received = MessageRecord & { droppedBefore: number };

/** Publishes 0..count-1 in order from `engine`, a few at a time, pausing so the switch lands mid-run. */
async function publishRun(engine: Engine, count: number, onProgress: (published: number) => void) {
  for (let n = 0; n < count; n += 5) {
    const batch = Array.from({ length: Math.min(5, count - n) }, (_, i) => ({
      topic: 'log',
      payload: n + i,
    }));
    // Concurrent publishes of one instance, group-committed: their order is the history's order.
    await Promise.all(batch.map((input) => engine.publish(input)));
    onProgress(n + batch.length);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const cursorOrder = (a: string, b: string) => {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
};

async function twoInstances(live?: { maxBufferedMessages: number }) {
  const keyPrefix = uniquePrefix();
  const publisher = await harness.engine({ keyPrefix });
  await publisher.createTopic({ name: 'log', kind: 'FANOUT', history: { maxMessages: 10_000 } });
  const reader = await harness.engine({ keyPrefix, ...(live ? { live } : {}) });
  return { publisher, reader };
}

describe('Subscription.messages from history, then live', () => {
  it.each(['after', 'from'] as const)(
    'should send the history from %s and then the live tail, with a publisher running through the switch, over two instances, with no gap and no duplicate',
    async (how) => {
      const { publisher, reader } = await twoInstances();
      const total = 400;
      const streams: Promise<{ startedAt: number; first: number; received: Received[] }>[] = [];
      // A subscription starts every 20 messages while the publisher runs: each meets the seam at another point.
      const subscribe = async (startedAt: number) => {
        const page = await reader.topicHistory('log', {}, 1000);
        const back = page.edges[Math.max(0, page.edges.length - 10)] as {
          cursor: string;
          node: MessageRecord;
        };
        const first = back.node.payload as number;
        const start =
          how === 'after' ? { after: back.cursor } : { from: new Date(Number(back.cursor.split('-')[0])) };
        const stream = await reader.messages('log', {}, start);
        const received: Received[] = [];
        for await (const message of stream) {
          received.push(message);
          if (message.payload === total - 1) break;
        }
        return { startedAt, first: how === 'after' ? first + 1 : first, received };
      };
      await publishRun(publisher, total, (count) => {
        if (count % 20 === 0 && count < total) streams.push(subscribe(count));
      });
      const results = await Promise.all(streams);
      expect(results.length).toBe(19);

      for (const { startedAt, first, received } of results) {
        const payloads = received.map((message) => message.payload as number);
        // `from` a time may take in earlier messages of the same millisecond, never a later one.
        const start = payloads[0] as number;
        if (how === 'after') expect(start, `started at ${startedAt}`).toBe(first);
        else expect(start, `started at ${startedAt}`).toBeLessThanOrEqual(first);
        expect(payloads, `started at ${startedAt}`).toEqual(
          Array.from({ length: total - start }, (_, n) => start + n),
        );
        const cursors = received.map((message) => message.cursor as string);
        expect(cursors.every((cursor) => typeof cursor === 'string')).toBe(true);
        expect([...cursors].sort(cursorOrder)).toEqual(cursors);
      }
    },
  );

  it('should fill what a slow reader dropped from live out of the history', async () => {
    const { publisher, reader } = await twoInstances({ maxBufferedMessages: 5 });
    await publisher.publish({ topic: 'log', payload: -1 });
    const [only] = (await publisher.topicHistory('log', {})).edges;
    const stream = await reader.messages('log', {}, { after: only?.cursor });
    // Nobody reads while 60 are published: the live buffer (5) drops most of them.
    await publisher.publishBatch(Array.from({ length: 60 }, (_, payload) => ({ topic: 'log', payload })));
    await waitFor(async () => (await reader.topicHistory('log', {}, 100)).edges.length === 61);
    const received: Received[] = [];
    for await (const message of stream) {
      received.push(message);
      if (message.payload === 59) break;
    }
    expect(received.map((message) => message.payload)).toEqual(Array.from({ length: 60 }, (_, n) => n));
  });

  it('should filter history and live alike, and refuse a topic without history and a bad start', async () => {
    const { publisher, reader } = await twoInstances();
    await publisher.createTopic({ name: 'plain', kind: 'FANOUT' });
    await waitFor(() => reader.topic('plain'));
    await expectRefusal(
      reader.messages('plain', {}, { from: new Date(0) }),
      ErrorCode.BadUserInput,
      /keeps no history/,
    );
    await expectRefusal(reader.messages('log', {}, { after: 'x' }), ErrorCode.BadUserInput, /history cursor/);
    await expectRefusal(
      reader.messages('log', {}, { after: '1-0', from: new Date(0) }),
      ErrorCode.BadUserInput,
      /not both/,
    );

    await publisher.publish({ topic: 'log', payload: 'a1', headers: { k: 'a' } });
    await publisher.publish({ topic: 'log', payload: 'b1', headers: { k: 'b' } });
    const stream = await reader.messages('log', { headers: { k: 'a' } }, { from: new Date(0) });
    await publisher.publish({ topic: 'log', payload: 'b2', headers: { k: 'b' } });
    await publisher.publish({ topic: 'log', payload: 'a2', headers: { k: 'a' } });
    const received: Received[] = [];
    for await (const message of stream) {
      received.push(message);
      if (message.payload === 'a2') break;
    }
    expect(received.map((message) => message.payload)).toEqual(['a1', 'a2']);
  });
});
