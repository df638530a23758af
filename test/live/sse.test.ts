import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/redis.js';
import { type GraphQLBody, useLiveGateways, warmUp } from './helpers.js';

const { pool, redis } = useLiveGateways();

interface SseEvent {
  event: string;
  data: GraphQLBody<{ messages: { payload: unknown } }> | null;
}

/** A GraphQL subscription over Server-Sent Events (graphql-yoga's "distinct connections" mode). */
async function subscribeOverSse(url: string, query: string) {
  const abort = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query }),
    signal: abort.signal,
  });
  const events: SseEvent[] = [];
  let ended = false;
  const reading = (async () => {
    const reader = response.body?.getReader();
    if (!reader) throw new Error('no body');
    const decoder = new TextDecoder();
    let pending = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      let end = pending.indexOf('\n\n');
      while (end >= 0) {
        const block = pending.slice(0, end);
        pending = pending.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event) events.push({ event, data: data ? (JSON.parse(data) as SseEvent['data']) : null });
        end = pending.indexOf('\n\n');
      }
    }
  })()
    .catch(() => {})
    .finally(() => {
      ended = true;
    });
  return {
    response,
    events,
    ended: () => ended,
    close: async () => {
      abort.abort();
      await reading;
    },
  };
}

const payloads = (events: SseEvent[]) =>
  events.flatMap((event) =>
    event.event === 'next' && event.data?.data ? [event.data.data.messages.payload] : [],
  );

describe('subscriptions over Server-Sent Events', () => {
  it('should stream Subscription.messages to a client that asks for text/event-stream', async () => {
    const { gateway, url } = await pool.start(redis.url);
    await gateway.engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const stream = await subscribeOverSse(url, 'subscription { messages(topic: "orders") { payload } }');
    try {
      expect(stream.response.status).toBe(200);
      expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await warmUp(
        () => gateway.engine.publish({ topic: 'orders', payload: 'warm-up' }),
        () => payloads(stream.events).length > 0,
      );

      await gateway.engine.publish({ topic: 'orders', payload: { order: 42 } });

      await waitFor(() =>
        payloads(stream.events).some((payload) => JSON.stringify(payload) === '{"order":42}'),
      );
    } finally {
      await stream.close();
    }
    // The stream's source is released when the client goes away.
    await waitFor(() => gateway.inFlight === 0, { message: 'the SSE request stayed in flight' });
  });

  it('should end open SSE subscriptions with UNAVAILABLE when the gateway shuts down', async () => {
    const { gateway, url } = await pool.start(redis.url);
    await gateway.engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const stream = await subscribeOverSse(url, 'subscription { messages(topic: "orders") { payload } }');
    await warmUp(
      () => gateway.engine.publish({ topic: 'orders', payload: 'warm-up' }),
      () => payloads(stream.events).length > 0,
    );

    const startedAt = Date.now();
    await gateway.stop();

    // Well within the 10 s shutdown timeout: the drain did not wait for the stream to end by itself.
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    await waitFor(() => stream.ended());
    const last = stream.events.filter((event) => event.event === 'next').at(-1);
    expect(last?.data?.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
    expect(stream.events.at(-1)?.event).toBe('complete');
  });
});
