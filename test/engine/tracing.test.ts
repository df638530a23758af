import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseTraceparent } from '../../queues/core/trace.js';
import type { Engine } from '../../queues/engine/engine.js';
import { headerOf } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';
import { FAST_RETRY, useEngineHarness } from './harness.js';

const harness = useEngineHarness();
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;

/** Topic `orders` with a WEBHOOK queue `hook` to a real receiver and a CONSUMER queue `pull`. */
async function topology(engine: Engine, status = 204) {
  const receiver = await harness.receiver();
  receiver.respond = () => ({ status });
  await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
  await engine.createQueue({
    topic: 'orders',
    name: 'hook',
    target: 'WEBHOOK',
    url: receiver.url,
    retry: { ...FAST_RETRY, maxAttempts: 2 },
  });
  await engine.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER' });
  return receiver;
}

const spansNamed = (name: string) => exporter.getFinishedSpans().filter((span) => span.name === name);
const parentId = (span: ReadableSpan | undefined) => span?.parentSpanContext?.spanId;

describe('trace context without an SDK', () => {
  it('carries a traceparent header unchanged to webhook requests and consumer deliveries', async () => {
    const engine = await harness.engine();
    const receiver = await topology(engine);
    await engine.publish({
      topic: 'orders',
      payload: 1,
      headers: { traceparent: TRACEPARENT, tracestate: 'k=v' },
    });
    await waitFor(() => receiver.requests.length === 1, { message: 'the webhook delivery' });
    const [request] = receiver.requests;
    if (!request) throw new Error('no request');
    expect(headerOf(request, 'traceparent')).toBe(TRACEPARENT);
    expect(headerOf(request, 'tracestate')).toBe('k=v');
    const [delivery] = await engine.receive('orders', 'pull', 1, 1_000);
    expect(delivery?.message.headers).toEqual({ traceparent: TRACEPARENT, tracestate: 'k=v' });
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('sends no trace header for a message without one, and none for one that is malformed', async () => {
    const engine = await harness.engine();
    const receiver = await topology(engine);
    await engine.publish({ topic: 'orders', payload: 1 });
    await engine.publish({ topic: 'orders', payload: 2, headers: { traceparent: '00-xyz-01' } });
    await waitFor(() => receiver.requests.length === 2, { message: 'both webhook deliveries' });
    for (const request of receiver.requests) expect(request.headers.traceparent).toBeUndefined();
  });
});

describe('trace spans with an SDK registered', () => {
  beforeAll(() => {
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
  });
  afterAll(async () => {
    trace.disable();
    await provider.shutdown();
  });
  beforeEach(() => exporter.reset());

  it('continues the trace a publish names: publish span, then a delivery span per attempt, with their traceparents sent on', async () => {
    const engine = await harness.engine();
    const receiver = await topology(engine);
    const published = await engine.publish({
      topic: 'orders',
      payload: 1,
      headers: { traceparent: TRACEPARENT },
    });

    const [publishSpan, ...otherPublishes] = spansNamed('publish orders');
    expect(otherPublishes).toEqual([]);
    expect(publishSpan?.kind).toBe(SpanKind.PRODUCER);
    expect(publishSpan?.spanContext().traceId).toBe(TRACE_ID);
    expect(parentId(publishSpan)).toBe(PARENT_ID);
    expect(publishSpan?.attributes).toMatchObject({
      'messaging.system': 'switchyard',
      'messaging.destination.name': 'orders',
      'messaging.message.id': published.messageId,
      'switchyard.routed_to': 2,
    });
    const publishSpanId = publishSpan?.spanContext().spanId;

    // The message carries the publish span's context: a consumer continues under it.
    const [delivery] = await engine.receive('orders', 'pull', 1, 1_000);
    const carried = parseTraceparent(delivery?.message.headers.traceparent);
    expect(carried).toMatchObject({ traceId: TRACE_ID, spanId: publishSpanId });

    await waitFor(() => spansNamed('deliver orders/hook').length === 1, { message: 'the delivery span' });
    const [deliverSpan] = spansNamed('deliver orders/hook');
    expect(deliverSpan?.kind).toBe(SpanKind.CONSUMER);
    expect(deliverSpan?.spanContext().traceId).toBe(TRACE_ID);
    expect(parentId(deliverSpan)).toBe(publishSpanId);
    expect(deliverSpan?.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(deliverSpan?.attributes).toMatchObject({
      'messaging.message.id': published.messageId,
      'messaging.consumer.group.name': 'hook',
      'switchyard.attempt': 1,
    });
    // The receiver sees the attempt's span as the parent of whatever it does.
    const [request] = receiver.requests;
    if (!request) throw new Error('no request');
    expect(parseTraceparent(headerOf(request, 'traceparent'))).toMatchObject({
      traceId: TRACE_ID,
      spanId: deliverSpan?.spanContext().spanId,
    });
  });

  it('traces the publish of a request like any other, and the request carries its span to the consumer', async () => {
    const engine = await harness.engine();
    await topology(engine);
    const answered = engine.request(
      { topic: 'orders', payload: 1, headers: { traceparent: TRACEPARENT } },
      5_000,
    );
    const [delivery] = await engine.receive('orders', 'pull', 1, 2_000);
    if (!delivery) throw new Error('no request delivered');
    const [publishSpan] = spansNamed('publish orders');
    expect(parentId(publishSpan)).toBe(PARENT_ID);
    expect(parseTraceparent(delivery.message.headers.traceparent)).toMatchObject({
      traceId: TRACE_ID,
      spanId: publishSpan?.spanContext().spanId,
    });
    await engine.reply(delivery.id, 'done');
    expect(await answered).toMatchObject({ payload: 'done' });
  });

  it('starts a trace for a publish without one, and marks failed attempts as errors', async () => {
    const engine = await harness.engine();
    const receiver = await topology(engine, 500);
    await engine.publishBatch([
      { topic: 'orders', payload: 1 },
      { topic: 'orders', payload: 2, headers: { traceparent: TRACEPARENT } },
    ]);
    const publishes = spansNamed('publish orders');
    expect(publishes).toHaveLength(2);
    const [fresh, continued] = publishes;
    expect(fresh?.parentSpanContext).toBeUndefined();
    expect(fresh?.spanContext().traceId).not.toBe(TRACE_ID);
    expect(continued?.spanContext().traceId).toBe(TRACE_ID);

    // Two messages, two attempts each, every one answered 500.
    await waitFor(() => spansNamed('deliver orders/hook').length === 4, {
      message: 'four delivery spans',
      timeoutMs: 10_000,
    });
    const attempts = spansNamed('deliver orders/hook');
    for (const span of attempts) {
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.events.some((event) => event.name === 'exception')).toBe(true);
    }
    const traceIds = new Set(attempts.map((span) => span.spanContext().traceId));
    expect(traceIds).toEqual(new Set([fresh?.spanContext().traceId, TRACE_ID]));
    expect(receiver.requests).toHaveLength(4);
  });
});
