import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';
import { useEngineHarness } from './harness.js';

const harness = useEngineHarness();
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

beforeAll(() => {
  expect(trace.setGlobalTracerProvider(provider)).toBe(true);
});
afterAll(async () => {
  trace.disable();
  await provider.shutdown();
});
beforeEach(() => exporter.reset());

const spansNamed = (name: string) => exporter.getFinishedSpans().filter((span) => span.name === name);

/** Topic `orders` with a CONSUMER queue `pull`, and one message published into it under TRACEPARENT. */
async function publishedOne(engine: Engine, ackTimeoutMs = 30_000) {
  await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
  await engine.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER', ackTimeoutMs });
  const published = await engine.publish({
    topic: 'orders',
    payload: 1,
    headers: { traceparent: TRACEPARENT },
  });
  const [publishSpan] = spansNamed('publish orders');
  if (!publishSpan) throw new Error('no publish span');
  return { messageId: published.messageId, publishSpanId: publishSpan.spanContext().spanId };
}

async function onlySpan(name: string): Promise<ReadableSpan> {
  await waitFor(() => spansNamed(name).length > 0, { message: `a finished ${name} span`, timeoutMs: 5_000 });
  const spans = spansNamed(name);
  expect(spans).toHaveLength(1);
  return spans[0] as ReadableSpan;
}

describe('consumer delivery spans', () => {
  it('opens a receive span under the publish span at hand-out and ends it at the ack', async () => {
    const engine = await harness.engine();
    const { messageId, publishSpanId } = await publishedOne(engine);
    const [delivery] = await engine.receive('orders', 'pull', 1, 1_000);
    if (!delivery) throw new Error('nothing received');
    // Open until the consumer settles it.
    expect(spansNamed('receive orders/pull')).toEqual([]);
    await engine.ack(delivery.id);

    const span = await onlySpan('receive orders/pull');
    expect(span.kind).toBe(SpanKind.CONSUMER);
    expect(span.spanContext().traceId).toBe(TRACE_ID);
    expect(span.parentSpanContext?.spanId).toBe(publishSpanId);
    expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(span.attributes).toMatchObject({
      'messaging.system': 'switchyard',
      'messaging.operation.type': 'receive',
      'messaging.destination.name': 'orders',
      'messaging.consumer.group.name': 'pull',
      'messaging.message.id': messageId,
      'switchyard.attempt': 1,
      'switchyard.outcome': 'ack',
    });
  });

  it('marks a nack as an error with its reason, and the retry is a span of its own', async () => {
    const engine = await harness.engine();
    await publishedOne(engine);
    const [first] = await engine.receive('orders', 'pull', 1, 1_000);
    if (!first) throw new Error('nothing received');
    await engine.nack(first.id, 'PROCESSING', 'database down', 0);
    const nacked = await onlySpan('receive orders/pull');
    expect(nacked.status).toEqual({ code: SpanStatusCode.ERROR, message: 'database down' });
    expect(nacked.attributes).toMatchObject({
      'switchyard.outcome': 'nack',
      'switchyard.reason': 'PROCESSING',
    });

    const [second] = await engine.receive('orders', 'pull', 1, 2_000);
    if (!second) throw new Error('no retry received');
    await engine.ack(second.id);
    await waitFor(() => spansNamed('receive orders/pull').length === 2, { message: 'the retry span' });
    expect(spansNamed('receive orders/pull')[1]?.attributes).toMatchObject({
      'switchyard.attempt': 2,
      'switchyard.outcome': 'ack',
    });
  });

  it('ends a delivery nobody settles as a TIMEOUT error at its deadline', async () => {
    const engine = await harness.engine();
    await publishedOne(engine, 300);
    const [delivery] = await engine.receive('orders', 'pull', 1, 1_000);
    if (!delivery) throw new Error('nothing received');
    const span = await onlySpan('receive orders/pull');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes).toMatchObject({
      'switchyard.outcome': 'timeout',
      'switchyard.reason': 'TIMEOUT',
    });
    // It ends at the deadline the delivery was given, not whenever the lapse was noticed.
    const endedAt = span.endTime[0] * 1000 + span.endTime[1] / 1e6;
    expect(Math.abs(endedAt - Date.parse(delivery.deliverBy))).toBeLessThan(5);
  });

  it('traces a consume (websocket push) delivery as consume, ended at its ack', async () => {
    const engine = await harness.engine();
    const { publishSpanId } = await publishedOne(engine);
    const stream = await engine.consume('orders', 'pull', 1);
    const { value: delivery } = await stream.next();
    if (!delivery) throw new Error('nothing pushed');
    expect(spansNamed('consume orders/pull')).toEqual([]);
    await engine.ack(delivery.id);
    const span = await onlySpan('consume orders/pull');
    expect(span.parentSpanContext?.spanId).toBe(publishSpanId);
    expect(span.attributes).toMatchObject({ 'switchyard.outcome': 'ack' });
    await stream.return?.();
  });

  it('ends the span of a delivery acked through another instance as acked, once its deadline passes', async () => {
    const keyPrefix = uniquePrefix();
    const handsOut = await harness.engine({ keyPrefix });
    const acks = await harness.engine({ keyPrefix });
    await publishedOne(handsOut, 300);
    const [delivery] = await handsOut.receive('orders', 'pull', 1, 1_000);
    if (!delivery) throw new Error('nothing received');
    await acks.ack(delivery.id);
    const span = await onlySpan('receive orders/pull');
    expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(span.attributes).toMatchObject({ 'switchyard.outcome': 'ack' });
  });
});
