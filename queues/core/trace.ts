/**
 * W3C trace context (https://www.w3.org/TR/trace-context/) and OpenTelemetry spans for publish and
 * delivery, through @opentelemetry/api only: without an SDK registered by the host, every span is the
 * API's no-op (and a publish with no trace context to continue makes none); a `traceparent` message
 * header is then carried as it is, from publish to the webhook request and the consumer's delivery. With an SDK, a publish span
 * continues the trace its `traceparent` header names (or the host's active context), the message
 * carries the publish span's `traceparent` instead, and each webhook attempt is a span under it whose
 * own `traceparent` goes with the request; each consumer delivery is a span from hand-out to
 * settle. Contexts are passed explicitly, so this works without a context manager too.
 */
import {
  type Attributes,
  type Context,
  context,
  isSpanContextValid,
  ProxyTracerProvider,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';

/** The instrumentation scope our spans are reported under. */
export const TRACER_NAME = 'switchyard';

/** The header names W3C trace context travels in, as message headers and as HTTP headers. */
export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

const TRACEPARENT_FORMAT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

/** The span context a `traceparent` value names, or null when it is not a valid one. */
export function parseTraceparent(value: unknown): SpanContext | null {
  if (typeof value !== 'string') return null;
  const match = TRACEPARENT_FORMAT.exec(value.trim());
  if (!match) return null;
  const [, version = '', traceId = '', spanId = '', flags = ''] = match;
  // Version ff is invalid; version 00 allows nothing after the flags.
  if (version === 'ff' || (version === '00' && value.trim().length !== 55)) return null;
  const spanContext: SpanContext = {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  return isSpanContextValid(spanContext) ? spanContext : null;
}

/** A span context as a version-00 `traceparent` value. */
export function formatTraceparent(spanContext: SpanContext): string {
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

const isHeaderObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The parent of a span about a message: the trace its headers name, else the host's active context. */
function parentOf(headers: unknown): Context {
  const remote = isHeaderObject(headers) ? parseTraceparent(headers[TRACEPARENT]) : null;
  return remote ? trace.setSpanContext(context.active(), remote) : context.active();
}

function fail(span: Span, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  if (error instanceof Error) span.recordException(error);
}

const tracer = () => trace.getTracer(TRACER_NAME);

/**
 * Whether a publish span could record or carry anything: an SDK is registered (the global provider
 * has a delegate), or the trace context a message's headers or the host's active context name
 * continues. Without either, every span would be the API's no-op with an invalid context, and the
 * message keeps the headers it came with, so a publish skips the spans altogether: making them, a
 * context per publish and their closures were ~2 % of the gateway's self time and ~3.5 KiB of
 * garbage per publish with tracing off (docs/PERFORMANCE.md). A provider registered through another
 * copy of the API is not a ProxyTracerProvider of ours: traced, as before.
 */
function traced(inputs: readonly TracedPublish[]): boolean {
  if (sdkRegistered()) return true;
  for (const { headers } of inputs) if (carriesTraceparent(headers)) return true;
  return activeContextValid();
}

/** {@link traced} of one publish, without a list made for it. */
const tracedOne = (input: TracedPublish): boolean =>
  sdkRegistered() || carriesTraceparent(input.headers) || activeContextValid();

function sdkRegistered(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer(TRACER_NAME) !== undefined;
}

const carriesTraceparent = (headers: unknown): boolean =>
  isHeaderObject(headers) && headers[TRACEPARENT] !== undefined;

function activeContextValid(): boolean {
  const active = trace.getSpanContext(context.active());
  return active !== undefined && isSpanContextValid(active);
}

/** A publish of one message, as the publish span sees it. */
export interface TracedPublish {
  topic: string;
  headers?: unknown;
}

/**
 * Runs `publish` under a PRODUCER span `publish <topic>`; the input it gets carries the span's
 * `traceparent` in its headers when an SDK records the span (and is the input itself otherwise).
 * `attributesOf` adds what the result tells (message id, queues routed to).
 */
export function tracePublish<I extends TracedPublish, R>(
  input: I,
  publish: (input: I) => Promise<R>,
  attributesOf?: (result: R) => Attributes,
): Promise<R> {
  // Not an async function: untraced, the publish's own promise is the answer, without another
  // promise resolved with it (two more microtask turns on every publish).
  if (!tracedOne(input)) return publish(input);
  return tracedPublish(input, publish, attributesOf);
}

async function tracedPublish<I extends TracedPublish, R>(
  input: I,
  publish: (input: I) => Promise<R>,
  attributesOf?: (result: R) => Attributes,
): Promise<R> {
  const [result] = await tracePublishBatch(
    [input],
    async ([traced]) => [await publish(traced as I)],
    attributesOf,
  );
  return result as R;
}

/** As {@link tracePublish}, one span per message, around one call that publishes them all. */
export async function tracePublishBatch<I extends TracedPublish, R>(
  inputs: I[],
  publish: (inputs: I[]) => Promise<R[]>,
  attributesOf?: (result: R) => Attributes,
): Promise<R[]> {
  if (!traced(inputs)) return publish(inputs);
  const spans = inputs.map((input) => {
    const parent = parentOf(input.headers);
    const span = tracer().startSpan(
      `publish ${input.topic}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': TRACER_NAME,
          'messaging.operation.type': 'send',
          'messaging.destination.name': input.topic,
        },
      },
      parent,
    );
    return { span, parent };
  });
  const carried = inputs.map((input, index) => {
    const spanContext = spans[index]?.span.spanContext();
    // A no-op span (no SDK) has an invalid context: the message keeps the headers it came with.
    if (!spanContext || !isSpanContextValid(spanContext)) return input;
    if (input.headers !== undefined && input.headers !== null && !isHeaderObject(input.headers)) return input;
    return { ...input, headers: { ...(input.headers ?? {}), [TRACEPARENT]: formatTraceparent(spanContext) } };
  });
  const [first] = spans;
  try {
    const run = () => publish(carried);
    // The first span is the active one for whatever the host instruments beneath (Redis clients).
    const results = first ? await context.with(trace.setSpan(first.parent, first.span), run) : await run();
    results.forEach((result, index) => {
      if (attributesOf) spans[index]?.span.setAttributes(attributesOf(result));
    });
    return results;
  } catch (error) {
    for (const { span } of spans) fail(span, error);
    throw error;
  } finally {
    for (const { span } of spans) span.end();
  }
}

/** One delivery attempt, as its span sees it. */
export interface TracedDelivery {
  topic: string;
  queue: string;
  messageId: string;
  attempt: number;
  /** The message's headers: its `traceparent` is the parent. */
  headers: Record<string, string>;
}

/**
 * Runs one delivery attempt under a CONSUMER span `deliver <topic>/<queue>` whose parent is the
 * message's `traceparent`. `deliver` gets the trace headers to send on: the attempt span's
 * `traceparent` when an SDK records it, else the message's own (and its `tracestate`), unchanged.
 * `isSetback` tells an error that is no failed attempt (a circuit holding the queue back).
 */
export async function traceDelivery<R>(
  delivery: TracedDelivery,
  deliver: (traceHeaders: Record<string, string>) => Promise<R>,
  isSetback: (error: unknown) => boolean = () => false,
): Promise<R> {
  const parent = parentOf(delivery.headers);
  const span = tracer().startSpan(
    `deliver ${delivery.topic}/${delivery.queue}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': TRACER_NAME,
        'messaging.operation.type': 'process',
        'messaging.destination.name': delivery.topic,
        'messaging.consumer.group.name': delivery.queue,
        'messaging.message.id': delivery.messageId,
        'switchyard.attempt': delivery.attempt,
      },
    },
    parent,
  );
  const headers: Record<string, string> = {};
  const spanContext = span.spanContext();
  const carried = delivery.headers[TRACEPARENT];
  if (isSpanContextValid(spanContext)) headers[TRACEPARENT] = formatTraceparent(spanContext);
  else if (parseTraceparent(carried) && carried) headers[TRACEPARENT] = carried.trim();
  const state = delivery.headers[TRACESTATE];
  if (headers[TRACEPARENT] && state) headers[TRACESTATE] = state;
  try {
    return await context.with(trace.setSpan(parent, span), () => deliver(headers));
  } catch (error) {
    if (isSetback(error)) span.setAttribute('switchyard.held_back', true);
    else fail(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** How a consumer delivery ended, as its span records it. */
export type ConsumerSpanEnd =
  | { outcome: 'ack' | 'reply' | 'release' }
  | { outcome: 'nack' | 'timeout'; reason: string; error: string };

/** A consumer delivery's span, open from hand-out to settle. Ending it twice ends it once. */
export interface ConsumerSpan {
  end(how: ConsumerSpanEnd, at?: number): void;
}

/**
 * Starts the CONSUMER span of one delivery to a consumer, `receive <topic>/<queue>` (pull) or
 * `consume <topic>/<queue>` (the websocket push), under the message's `traceparent`. Unlike a webhook
 * attempt it outlives the call that made it: it ends when the delivery is acked, replied to, nacked,
 * put back, or its visibility timeout runs out (`at`, when given, is when that was).
 */
export function startConsumerSpan(delivery: TracedDelivery, via: 'receive' | 'consume'): ConsumerSpan {
  const span = tracer().startSpan(
    `${via} ${delivery.topic}/${delivery.queue}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': TRACER_NAME,
        'messaging.operation.type': 'receive',
        'messaging.destination.name': delivery.topic,
        'messaging.consumer.group.name': delivery.queue,
        'messaging.message.id': delivery.messageId,
        'switchyard.attempt': delivery.attempt,
      },
    },
    parentOf(delivery.headers),
  );
  let ended = false;
  return {
    end(how, at) {
      if (ended) return;
      ended = true;
      span.setAttribute('switchyard.outcome', how.outcome);
      if (how.outcome === 'nack' || how.outcome === 'timeout') {
        span.setAttribute('switchyard.reason', how.reason);
        span.setStatus({ code: SpanStatusCode.ERROR, message: how.error });
      }
      span.end(at);
    },
  };
}
