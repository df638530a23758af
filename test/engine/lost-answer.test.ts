import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SETTLE_TIMEOUT_MS } from '../../queues/publish/outcome.js';
import { redisProxy } from '../helpers/redis-proxy.js';
import { useEngineHarness } from './harness.js';

const harness = useEngineHarness();

/**
 * A TCP proxy in front of the harness Redis that can lose an answer: once armed with a marker, the
 * connection that sends a command containing it is cut when publish-commit's answer for one publish
 * (`*1\r\n:1\r\n`) comes back on it, so Redis has run the command and the client never hears of it.
 * Answers to commands sent before the marker pass, or the cut could come before Redis read it.
 * `refuse` keeps new connections out meanwhile.
 */
const ONE_PUBLISH_APPLIED = '*1\r\n:1\r\n';

async function lossyProxy(redisPort: number) {
  let marker: string | null = null;
  let refusing = false;
  const doomed = new WeakSet<Socket>();
  const proxy = await redisProxy(redisPort, {
    accept: () => !refusing,
    fromClient(chunk, { client, upstream }) {
      if (marker !== null && chunk.includes(marker)) {
        doomed.add(client);
        marker = null;
      }
      upstream.write(chunk);
    },
    fromRedis(chunk, { client, upstream }) {
      if (doomed.has(client) && chunk.includes(ONE_PUBLISH_APPLIED)) {
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    },
  });
  return {
    ...proxy,
    loseAnswerTo: (text: string) => {
      marker = text;
    },
    refuse: (value: boolean) => {
      refusing = value;
    },
  };
}

let proxy: Awaited<ReturnType<typeof lossyProxy>> | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

describe('a publish whose answer is lost on the way back', () => {
  it('should answer the stored message once Redis is back, not an error', async () => {
    proxy = await lossyProxy(harness.redis.port);
    const engine = await harness.engine({ redisUrl: proxy.url, onError: () => {} });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'orders', name: 'a', target: 'CONSUMER' });
    await engine.createQueue({ topic: 'orders', name: 'b', target: 'CONSUMER' });

    proxy.loseAnswerTo('lost-answer-1');
    const result = await engine.publish({ topic: 'orders', payload: 'lost-answer-1', idempotencyKey: 'k1' });

    expect(result).toMatchObject({ duplicate: false, routedTo: ['a', 'b'] });
    for (const name of ['a', 'b']) {
      expect(await harness.bullQueue(engine, 'orders', name).getJobState(result.messageId)).toMatch(
        /^(waiting|prioritized)$/,
      );
    }
    // Run once, not resent on reconnect: counted once.
    expect(await engine.topicStats('orders')).toMatchObject({ published: 1 });
    expect(
      await engine.publish({ topic: 'orders', payload: 'lost-answer-1', idempotencyKey: 'k1' }),
    ).toMatchObject({
      duplicate: true,
      messageId: result.messageId,
    });
  });

  it('should apply a publish no queue matched once, by its idempotency key, when the lost call is sent again', async () => {
    proxy = await lossyProxy(harness.redis.port);
    const engine = await harness.engine({ redisUrl: proxy.url, onError: () => {} });
    await engine.createTopic({ name: 'audit', kind: 'FANOUT', history: { maxMessages: 100 } });

    proxy.loseAnswerTo('lost-answer-3');
    const result = await engine.publish({ topic: 'audit', payload: 'lost-answer-3', idempotencyKey: 'k3' });

    expect(result).toMatchObject({ duplicate: false, routedTo: [] });
    // ioredis sends the call again on its new connection; the call sees its idempotency key set and writes nothing twice.
    expect((await engine.topicHistory('audit', {}, 10)).edges.map((edge) => edge.node.id)).toEqual([
      result.messageId,
    ]);
    expect(await engine.topicStats('audit')).toMatchObject({ published: 1, unrouted: 1 });
  });

  it('should answer UNAVAILABLE with outcome UNKNOWN when Redis does not come back in time', async () => {
    proxy = await lossyProxy(harness.redis.port);
    // ioredis holds a command whose connection dropped until it reconnects: the timeout bounds that.
    const engine = await harness.engine({ redisUrl: proxy.url, onError: () => {}, commandTimeoutMs: 500 });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'orders', name: 'a', target: 'CONSUMER' });

    proxy.loseAnswerTo('lost-answer-2');
    proxy.refuse(true);
    const started = Date.now();
    const refused = await engine
      .publish({ topic: 'orders', payload: 'lost-answer-2' })
      .catch((error: unknown) => error);
    const waited = Date.now() - started;
    proxy.refuse(false);

    expect(refused).toMatchObject({ code: 'UNAVAILABLE', details: { outcome: 'UNKNOWN' } });
    expect(String(refused)).toMatch(/retry with the same idempotencyKey/);
    // The command's timeout, then the wait for Redis to say whether it was stored: bounded, not forever.
    expect(waited).toBeLessThan(500 + SETTLE_TIMEOUT_MS + 2_000);
    // It was stored all the same: the answer said it might have been.
    const counts = await harness.bullQueue(engine, 'orders', 'a').getJobCounts('waiting', 'prioritized');
    expect((counts.waiting ?? 0) + (counts.prioritized ?? 0)).toBe(1);
  });
});
