import { type Job, Worker } from 'bullmq';
import type { Dispatcher } from 'undici';
import type { EventBus, MessageRecord, QueueRecord } from '../core/index.js';
import { ErrorCode, traceDelivery } from '../core/index.js';
import { activeSigningSecrets, webhookHeaders } from '../signing/index.js';
import { recordAttempt } from './attempt-history.js';
import type { CircuitBreaker, CircuitTarget, GateVerdict } from './circuit-breaker.js';
import { deliveryFailure, FinalDeliveryFailure } from './failure.js';
import type { Redact } from './redaction.js';
import type { ReplySender } from './request-reply.js';
import { postWebhook, type ResponseBody, type WebhookOutcome } from './webhook-http.js';

/** What one webhook attempt needs besides its job: the workers' options and their pause flag. */
export interface DeliverContext {
  events: EventBus;
  dispatcher?: Dispatcher;
  circuit?: CircuitBreaker;
  replies?: ReplySender;
  redact: Redact;
  onError?: (error: Error) => void;
  /** True once the workers were paused: a fetched job goes back to the queue unattempted. */
  paused(): boolean;
}

export const isExpired = (message: MessageRecord, now = Date.now()) =>
  message.expiresAt !== null && Date.parse(message.expiresAt) <= now;

/** Reports a breaker error and answers `fallback`: the delivery's own outcome matters more. */
const breakerError =
  <T>(ctx: DeliverContext, fallback: T) =>
  (error: unknown): T => {
    ctx.onError?.(error instanceof Error ? error : new Error(String(error)));
    return fallback;
  };

/** Not attemptsStarted: a delivery the circuit sent back to the queue started, but was no attempt. */
const attemptOf = (job: Job<MessageRecord>) => job.attemptsMade + job.stalledCounter + 1;

/**
 * A webhook's answer to a request: the JSON body of its 2xx response. An empty body acks without a
 * reply (the request waits on, for another queue's reply or its timeout); a body that is not JSON
 * fails the request with VALIDATION, one beyond the topic's size limit with PAYLOAD_TOO_LARGE, at once.
 */
async function answerRequest(
  replies: ReplySender,
  replyTo: string,
  message: MessageRecord,
  queue: QueueRecord,
  body: ResponseBody,
): Promise<boolean> {
  const about = { messageId: message.id, queue: queue.name };
  if (body.truncated) {
    const maxBytes = await replies.maxBytes(message.topic);
    return replies.refuse(replyTo, {
      ...about,
      code: ErrorCode.PayloadTooLarge,
      message: `Queue ${queue.name}'s webhook answered with a body over topic ${message.topic}'s ${maxBytes} bytes`,
    });
  }
  if (body.text.trim() === '') return false;
  let payload: unknown;
  try {
    payload = JSON.parse(body.text);
  } catch {
    return replies.refuse(replyTo, {
      ...about,
      code: ErrorCode.Validation,
      message: `Queue ${queue.name}'s webhook answered 2xx with a body that is not JSON`,
    });
  }
  return replies.reply(replyTo, { ...about, payload, headers: {} });
}

/** Whether this attempt may POST: 'probe' when it is the half-open circuit's probe. */
async function mayDeliver(
  ctx: DeliverContext,
  queue: QueueRecord,
  target: CircuitTarget,
): Promise<'deliver' | 'probe'> {
  const { circuit } = ctx;
  // The breaker fails open: a Redis hiccup while asking it must not stop a delivery.
  const gate: GateVerdict = circuit
    ? await circuit.gate(target, queue.ackTimeoutMs).catch(breakerError(ctx, { kind: 'deliver' }))
    : { kind: 'deliver' };
  // Back to the queue without spending an attempt; the limiter key holds every worker back meanwhile.
  if (gate.kind === 'wait') throw Worker.RateLimitError();
  // Paused while the breaker was asked: back to the queue before any POST (a probe goes ahead, so
  // that the half-open circuit gets its answer).
  if (ctx.paused() && gate.kind !== 'probe') throw Worker.RateLimitError();
  return gate.kind === 'probe' ? 'probe' : 'deliver';
}

/** Fails an expired message for good, with its EXPIRED attempt in the history. */
async function failExpired(job: Job<MessageRecord>): Promise<never> {
  const failure = new FinalDeliveryFailure('EXPIRED', `message expired at ${job.data.expiresAt}`);
  await recordAttempt(job, {
    attempt: attemptOf(job),
    at: new Date().toISOString(),
    reason: 'EXPIRED',
    error: failure.detail,
    durationMs: 0,
  });
  throw failure;
}

async function delivered(
  ctx: DeliverContext,
  job: Job<MessageRecord>,
  queue: QueueRecord,
  target: CircuitTarget,
  probe: boolean,
  body: ResponseBody | undefined,
): Promise<void> {
  const message = job.data;
  await ctx.circuit?.succeeded(target, probe).catch(breakerError(ctx, undefined));
  const replyTo = ctx.replies?.expectsReply(message.replyTo) ? message.replyTo : null;
  // The delivery is done either way; a reply that cannot be sent must not make it a failure.
  if (ctx.replies && replyTo !== null && body)
    await answerRequest(ctx.replies, replyTo, message, queue, body).catch(breakerError(ctx, false));
  ctx.events.emit({
    kind: 'DELIVERED',
    at: new Date().toISOString(),
    topic: message.topic,
    queue: queue.name,
    messageId: message.id,
    attempt: attemptOf(job),
    reason: null,
    error: null,
    latencyMs: Date.now() - Date.parse(message.publishedAt),
  });
}

async function failedAttempt(
  ctx: DeliverContext,
  job: Job<MessageRecord>,
  queue: QueueRecord,
  target: CircuitTarget,
  probe: boolean,
  startedAt: number,
  outcome: Extract<WebhookOutcome, { ok: false }>,
): Promise<never> {
  const message = job.data;
  const attempt = attemptOf(job);
  // A receiver may echo our request (or its own secrets) in its answer: nothing unredacted is stored.
  const error = ctx.redact(outcome.error);
  await recordAttempt(job, {
    attempt,
    at: new Date(startedAt).toISOString(),
    reason: outcome.reason,
    error,
    durationMs: outcome.durationMs,
  });
  const tripped = await ctx.circuit?.failed(target, outcome.reason).catch(breakerError(ctx, undefined));
  if (tripped?.opened) {
    ctx.events.emit({
      kind: 'FAILED',
      at: new Date().toISOString(),
      topic: message.topic,
      queue: queue.name,
      messageId: message.id,
      attempt,
      reason: 'CIRCUIT_OPEN',
      error:
        `${probe ? 'The probe failed' : `${tripped.failures} deliveries failed in a row`}: deliveries to ` +
        `this endpoint are held back until ${new Date(tripped.until).toISOString()}, then probed`,
    });
  }
  throw deliveryFailure(outcome.reason, error, outcome.retryable, outcome.retryAfterMs);
}

/** One attempt: the circuit's leave, one signed POST, and what its answer makes of the job. */
async function deliver(
  ctx: DeliverContext,
  job: Job<MessageRecord>,
  queue: QueueRecord,
  target: CircuitTarget,
  traceHeaders: Record<string, string>,
): Promise<void> {
  const probe = (await mayDeliver(ctx, queue, target)) === 'probe';
  const message = job.data;
  const startedAt = Date.now();
  if (isExpired(message, startedAt)) await failExpired(job);
  // The record's internal fields (who published it, for its trail) are not the receiver's to see.
  const { by: _by, publishedSha256: _publishedSha256, ...sent } = message;
  const body = JSON.stringify(sent);
  const headers = {
    ...webhookHeaders(activeSigningSecrets(queue, startedAt), message.id, body),
    'x-switchyard-topic': message.topic,
    'x-switchyard-queue': queue.name,
    'x-switchyard-attempt': String(attemptOf(job)),
    // W3C trace context: this attempt's span, or the message's own traceparent (core/trace.ts).
    ...traceHeaders,
  };
  const { replies } = ctx;
  const replyTo = replies?.expectsReply(message.replyTo) ? message.replyTo : null;
  const outcome = await postWebhook({
    url: queue.url ?? '',
    body,
    headers,
    timeoutMs: queue.ackTimeoutMs,
    dispatcher: ctx.dispatcher,
    replyBodyBytes: replies && replyTo !== null ? await replies.maxBytes(message.topic) : null,
  });
  if (outcome.ok) return delivered(ctx, job, queue, target, probe, outcome.body);
  return failedAttempt(ctx, job, queue, target, probe, startedAt, outcome);
}

/** One attempt under its trace span; a circuit holding the queue back is no failed attempt. */
export const tracedDeliver = (
  ctx: DeliverContext,
  job: Job<MessageRecord>,
  queue: QueueRecord,
  target: CircuitTarget,
) =>
  traceDelivery(
    {
      topic: job.data.topic,
      queue: queue.name,
      messageId: job.data.id,
      attempt: attemptOf(job),
      headers: job.data.headers,
    },
    (traceHeaders) => deliver(ctx, job, queue, target, traceHeaders),
    (error) => error instanceof Error && error.name === 'RateLimitError',
  );
