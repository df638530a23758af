/**
 * One webhook delivery attempt over HTTP, classified into the engine's failure vocabulary. Retrying,
 * signing and bookkeeping live elsewhere; this module only talks to the receiver.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { type Dispatcher, getGlobalDispatcher } from 'undici';
import type { FailureReason } from '../core/index.js';
import { ADDRESS_REFUSED } from '../security/index.js';

/** How much of a response body we read by default: enough for an error message, no more. */
export const DEFAULT_MAX_RESPONSE_BYTES = 4096;
/** How much of the response body ends up in an error string. */
const ERROR_BODY_CHARS = 500;
const HTTP_DATE_SHAPE = /[A-Za-z]{3}.*\b\d{2}:\d{2}:\d{2}\b/;

export interface PostWebhookOptions {
  /** The receiver; only http: and https: are accepted. */
  url: string;
  /** The serialised JSON payload, sent as is (it is what was signed). */
  body: string;
  /** Extra request headers, typically the signature headers. Never echoed into errors. */
  headers: Record<string, string>;
  /** The budget for the whole exchange: connecting, sending and reading the response. */
  timeoutMs: number;
  /**
   * The most response body bytes we read; beyond that the stream is cancelled.
   * @default 4096
   */
  maxResponseBytes?: number;
  /**
   * The connection pool to send through. The engine passes its guarded agent (webhook-guard.ts), whose
   * connections refuse forbidden addresses; such a refusal answers REJECTED, not retried.
   * @default undici's global dispatcher, which checks no address
   */
  dispatcher?: Dispatcher;
  /**
   * Read a 2xx response's body, up to this many bytes, and answer it (request-reply: a webhook answers
   * a request with the JSON body of its 2xx response).
   * @default null: a 2xx body is drained unread
   */
  replyBodyBytes?: number | null;
}

/** A 2xx response's body, when asked for: its text (up to the limit) and whether there was more. */
export interface ResponseBody {
  text: string;
  truncated: boolean;
}

export type WebhookOutcome =
  | { ok: true; status: number; durationMs: number; body?: ResponseBody }
  | {
      ok: false;
      reason: FailureReason;
      retryable: boolean;
      error: string;
      status: number | null;
      retryAfterMs: number | null;
      durationMs: number;
    };

type Failure = Extract<WebhookOutcome, { ok: false }>;
type Verdict = Pick<Failure, 'reason' | 'retryable'>;

/** POSTs once and says how it went. Never throws. */
export async function postWebhook(options: PostWebhookOptions): Promise<WebhookOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const target = parseTarget(options.url);
  if (typeof target === 'string') {
    return failure({ reason: 'REJECTED', retryable: false }, target, null, null, elapsed());
  }

  // undici takes an EventEmitter as its abort signal: on Node 20 an AbortController per request
  // costs a makeTransferable and, when it fires, a DOMException; this costs neither.
  const abort = new EventEmitter();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.emit('abort');
  }, options.timeoutMs);
  try {
    const response = await send(options, target, abort);
    const replyBodyBytes = options.replyBodyBytes ?? null;
    if (replyBodyBytes !== null && response.statusCode >= 200 && response.statusCode < 300) {
      const body = await readLimited(response.body, replyBodyBytes + 1);
      const truncated = body.truncated || Buffer.byteLength(body.text) > replyBodyBytes;
      return { ok: true, status: response.statusCode, durationMs: elapsed(), body: { ...body, truncated } };
    }
    return await judgeResponse(response, options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, elapsed);
  } catch (error) {
    // Only trust our own timer for TIMEOUT: an abort we did not cause is some other failure.
    if (timedOut) {
      const message = `Timed out after ${options.timeoutMs} ms`;
      return failure({ reason: 'TIMEOUT', retryable: true }, message, null, null, elapsed());
    }
    return networkFailure(error, elapsed());
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `Dispatcher.request` rather than `fetch`: the same POST on the same pool without WHATWG Headers,
 * Request, Response and ReadableStream objects per delivery. It never follows redirects (that takes
 * an interceptor we do not add), so a 3xx comes back as a status.
 */
function send(
  options: PostWebhookOptions,
  target: URL,
  signal: EventEmitter,
): Promise<Dispatcher.ResponseData> {
  const headers: Record<string, string> = {};
  // Ours replaces any casing of a caller's Content-Type rather than being sent beside it.
  for (const [name, value] of Object.entries(options.headers)) {
    if (name.toLowerCase() !== 'content-type') headers[name] = value;
  }
  headers['content-type'] = 'application/json';
  // No `connection: close`: the agent's pooled keep-alive sockets are most of our throughput.
  return (options.dispatcher ?? getGlobalDispatcher()).request({
    origin: target.origin,
    path: `${target.pathname}${target.search}`,
    method: 'POST',
    headers,
    body: options.body,
    signal,
  });
}

/** The URL, or the reason it can never work. Never echoes the URL: it may carry tokens. */
function parseTarget(url: string): URL | string {
  if (!URL.canParse(url)) return 'Invalid webhook URL';
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return `Unsupported webhook URL scheme ${parsed.protocol}`;
  }
  // Credentials in the URL would not be sent as Basic auth by the dispatcher; refuse them openly.
  if (parsed.username || parsed.password) return 'Webhook URL must not contain credentials';
  return parsed;
}

async function judgeResponse(
  response: Dispatcher.ResponseData,
  maxBytes: number,
  elapsed: () => number,
): Promise<WebhookOutcome> {
  const { statusCode: status, body } = response;
  if (status >= 200 && status < 300) {
    // Drained up to the limit (destroyed beyond it) so that the socket can go back to the pool.
    // dump() reads a limit of 0 as its own default (128 KiB), hence at least one byte.
    await body.dump({ limit: Math.max(maxBytes, 1) }).catch(() => undefined);
    return { ok: true, status, durationMs: elapsed() };
  }
  const text = await readLimited(body, maxBytes);
  const verdict = classifyStatus(status);
  const retryAfterMs =
    status === 429 || status === 503 ? parseRetryAfter(headerValue(response.headers['retry-after'])) : null;
  return failure(verdict, httpError(status, text), status, retryAfterMs, elapsed());
}

const headerValue = (value: string | string[] | undefined): string | null =>
  (Array.isArray(value) ? value[0] : value) ?? null;

/** Which non-2xx statuses are worth another try. */
export function classifyStatus(status: number): Verdict {
  if (status === 408) return { reason: 'TIMEOUT', retryable: true };
  if (status === 429) return { reason: 'PROCESSING', retryable: true };
  if (status >= 500 && status < 600) return { reason: 'PROCESSING', retryable: true };
  // 3xx lands here too: following a redirect would send a signed payload somewhere unvetted.
  return { reason: 'REJECTED', retryable: false };
}

/**
 * A Retry-After header (delta-seconds or HTTP-date) in ms from `now`, or null when absent or
 * unreadable. A date in the past means "now", i.e. 0.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  const trimmed = value?.trim();
  if (!trimmed) return null;
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // V8's Date.parse accepts nearly anything ("-5" is year -5), so insist on the shape shared by
  // the three HTTP-date formats: a month or day name and an hh:mm:ss time.
  if (!HTTP_DATE_SHAPE.test(trimmed)) return null;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

type LimitedBody = ResponseBody;

/**
 * Reads at most `maxBytes` of the body, then destroys the rest. Always settles the stream one way
 * or the other, because an unread body pins its socket. Read errors (a timeout mid-body, a reset)
 * just end the read: the status line has already told us what we need.
 */
function readLimited(body: Readable, maxBytes: number): Promise<LimitedBody> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (truncated: boolean) => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      if (truncated && !body.destroyed) body.destroy();
      resolve({ text: Buffer.concat(chunks).toString('utf8'), truncated });
    };
    const onData = (chunk: Buffer) => {
      const room = maxBytes - size;
      if (chunk.byteLength > room) {
        chunks.push(chunk.subarray(0, Math.max(room, 0)));
        size = maxBytes;
        finish(true);
        return;
      }
      chunks.push(chunk);
      size += chunk.byteLength;
    };
    // The error listener stays: a destroyed body may still report an error nobody else would hear.
    body.on('error', () => finish(true));
    body.on('end', () => finish(false));
    body.on('close', () => finish(true));
    body.on('data', onData);
  });
}

function httpError(status: number, body: LimitedBody): string {
  const prefix = status >= 300 && status < 400 ? `HTTP ${status} (redirect not followed)` : `HTTP ${status}`;
  // Collapsed whitespace keeps HTML error pages on one log line.
  const text = body.text.replace(/\s+/g, ' ').trim();
  if (!text) return prefix;
  const clipped = text.length > ERROR_BODY_CHARS || body.truncated;
  return `${prefix}: ${text.slice(0, ERROR_BODY_CHARS)}${clipped ? '…' : ''}`;
}

/**
 * Connection-level failures. undici reports them as the system error itself (or an AggregateError
 * of them, one per address tried, or an error with one as its cause); the code is the useful part.
 * Only codes and messages are used, which never contain request headers.
 */
function networkFailure(error: unknown, durationMs: number): WebhookOutcome {
  const cause = rootCause(error);
  const code = errorCode(cause);
  const message = cause instanceof Error && cause.message ? cause.message : String(cause);
  // The SSRF guard refused the address: trying again would reach the same place.
  if (code === ADDRESS_REFUSED) {
    const verdict: Verdict = { reason: 'REJECTED', retryable: false };
    return failure(
      verdict,
      `Webhook target refused: ${message.slice(0, ERROR_BODY_CHARS)}`,
      null,
      null,
      durationMs,
    );
  }
  const text = code && !message.includes(code) ? `${code}: ${message}` : message;
  const verdict: Verdict =
    code?.startsWith('UND_ERR_') && code.endsWith('_TIMEOUT')
      ? { reason: 'TIMEOUT', retryable: true }
      : { reason: 'DEPENDENCY', retryable: true };
  return failure(verdict, `Network error: ${text.slice(0, ERROR_BODY_CHARS)}`, null, null, durationMs);
}

/** The innermost error that says something: follows `cause`, then the first of an AggregateError. */
function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5; depth++) {
    if (errorCode(current)) return current;
    const next =
      current instanceof AggregateError ? current.errors[0] : (current as { cause?: unknown })?.cause;
    if (next === undefined || next === null) return current;
    current = next;
  }
  return current;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function failure(
  verdict: Verdict,
  error: string,
  status: number | null,
  retryAfterMs: number | null,
  durationMs: number,
): Failure {
  return { ok: false, ...verdict, error, status, retryAfterMs, durationMs };
}
