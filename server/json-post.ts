/**
 * The hot path for GraphQL over HTTP: a plain `POST /graphql` with a JSON body and a JSON answer,
 * which is what every service publishing, receiving and acking sends.
 *
 * yoga serves HTTP through the Fetch API (@whatwg-node): every request builds a Request, a body
 * stream, an AbortController and a Response, and that machinery cost more CPU than the GraphQL
 * execution and the Redis work of a publish together (docs/PERFORMANCE.md). This path reads the node
 * request itself and hands the parameters to yoga's own `getResultForParams`, which runs the same
 * plugins (auth and rate limits in onParams, the parameter checks, parse and validation caches,
 * graphql-armor limits, masking, the audit log) and the same result serializer
 * (`processRegularResult`), so the answer is byte for byte what yoga would send
 * (test/server/json-post.test.ts compares the two).
 *
 * Anything unusual goes to yoga untouched: other methods, paths, content types or encodings, an
 * Origin header (CORS), an Accept this path does not answer, a draining gateway, a body that is not
 * a JSON object with valid parameters, and any document that may hold a subscription. A body already
 * read is handed over as `req.body`, the way body-parsing frameworks hand requests to yoga.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExecutionResult } from 'graphql';
import { type FetchAPI, type GraphQLParams, isAsyncIterable, processRegularResult } from 'graphql-yoga';
import { markRequestErrorCodes } from '../schema/errors.js';
import { tooLargeError } from './use-limits.js';
import type { YogaApp } from './yoga.js';

/** Options for {@link createJsonPostPath}. */
export interface JsonPostOptions {
  /** The yoga app that serves everything else; its plugins serve this path too. */
  yoga: YogaApp;
  /** The GraphQL endpoint's path, exactly. */
  path: string;
  /** The largest body accepted; a larger one is refused with PAYLOAD_TOO_LARGE (413), as yoga does. */
  maxRequestBytes: number;
  /** Requests that arrive while draining go to yoga, whose drain plugin refuses them. */
  isDraining: () => boolean;
}

/** Serves a request and answers true, or answers false without touching it (the caller gives it to yoga). */
export type JsonPostPath = (req: IncomingMessage, res: ServerResponse) => boolean;

const JSON_TYPES = new Set(['application/json', 'application/graphql-response+json']);
const PARAMETER_NAMES = new Set(['query', 'variables', 'operationName', 'extensions']);
/** Any document that might hold a subscription: those stream (SSE) or are refused by yoga's own rules. */
const MAY_SUBSCRIBE = /subscription/i;

/** The media type yoga would answer with, for an Accept this path serves; null for anything else. */
export function answerType(accept: string | undefined): string | null {
  // yoga reads a missing Accept as */*, and answers */* for a query or mutation with application/json.
  // What nearly every client sends skips the parsing below: this and isJsonBody were ~1 % of the
  // gateway's CPU in scenario 1's profile.
  if (accept === undefined || accept === '' || accept === 'application/json' || accept === '*/*')
    return 'application/json';
  let chosen: string | null = null;
  for (const entry of accept.replace(/\s/g, '').toLowerCase().split(',')) {
    const [type = '', ...params] = entry.split(';');
    // yoga skips entries with another charset; this path leaves such requests to it.
    if (params.some((param) => param.startsWith('charset=') && param !== 'charset=utf-8')) return null;
    const served = type === '*/*' ? 'application/json' : JSON_TYPES.has(type) ? type : null;
    if (served === null) return null;
    // yoga lets the first listed type win among those it can serve.
    chosen ??= served;
  }
  return chosen;
}

function isJsonBody(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  if (contentType === 'application/json') return true;
  const [type = '', ...params] = contentType.replace(/\s/g, '').toLowerCase().split(';');
  return type === 'application/json' && params.every((param) => param === 'charset=utf-8');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The parameters, when they are ones yoga's checks accept; null sends the request to yoga for its refusal. */
function validParams(body: unknown): GraphQLParams | null {
  if (!isObject(body)) return null;
  for (const name in body) {
    if (!PARAMETER_NAMES.has(name) && body[name] !== null && body[name] !== undefined) return null;
  }
  const { query, variables, operationName, extensions } = body;
  if (typeof query !== 'string' || MAY_SUBSCRIBE.test(query)) return null;
  if (variables != null && !isObject(variables)) return null;
  if (operationName != null && typeof operationName !== 'string') return null;
  if (extensions != null && !isObject(extensions)) return null;
  // As yoga's JSON parser does, the checked object is the parameters; nulls stand for absent.
  return body as GraphQLParams;
}

/** The Headers of {@link RequestView}: reads the node request's headers, copies nothing. */
class HeadersView {
  constructor(private readonly req: IncomingMessage) {}

  get(name: string): string | null {
    const value = this.req.headers[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }

  has(name: string): boolean {
    return this.req.headers[name.toLowerCase()] !== undefined;
  }
}

/**
 * The slice of a Fetch Request that yoga's onParams hooks and our plugins read: headers, method, url.
 * Deliberately partial: building a real Request is the cost this path exists to avoid. The plugins
 * in the chain read only these members, and the parity test fails if one starts reading another. A
 * class, so that a request costs two small objects rather than an object and two closures.
 */
class RequestView {
  readonly method = 'POST';
  readonly headers: HeadersView;

  constructor(
    private readonly req: IncomingMessage,
    private readonly path: string,
  ) {
    this.headers = new HeadersView(req);
  }

  /** Read by few plugins, so built only when asked. */
  get url(): string {
    return `http://${this.req.headers.host ?? 'localhost'}${this.path}`;
  }
}

/** What processRegularResult builds, captured instead of becoming a Fetch Response. */
class CapturedResponse {
  constructor(
    readonly body: string | null,
    readonly init: { status?: number; headers?: Record<string, string> },
  ) {}
}
const capture = { Response: CapturedResponse } as unknown as FetchAPI;

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(body);
}

function sendResult(res: ServerResponse, result: ExecutionResult, mediaType: string): void {
  markRequestErrorCodes(result);
  const answer = processRegularResult(result, capture, mediaType) as unknown as CapturedResponse;
  send(res, answer.init.status ?? 200, answer.init.headers ?? {}, answer.body ?? '');
}

/** The body, or null once it passed `limit` bytes (the rest is left unread). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

export function createJsonPostPath(options: JsonPostOptions): JsonPostPath {
  const { yoga, path, maxRequestBytes } = options;

  function handOver(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    // @whatwg-node reads an already-read body from `req.body`, as it does behind express.json().
    Object.assign(req, { body });
    void yoga(req, res);
  }

  async function serve(req: IncomingMessage, res: ServerResponse, mediaType: string): Promise<void> {
    const body = await readBody(req, maxRequestBytes);
    if (body === null) {
      // yoga would answer the same, and close the connection rather than read the rest.
      res.shouldKeepAlive = false;
      return sendResult(res, { errors: [tooLargeError(maxRequestBytes)] }, mediaType);
    }
    let params: GraphQLParams | null = null;
    try {
      params = validParams(JSON.parse(body.toString('utf8')));
    } catch {
      params = null;
    }
    if (params === null) return handOver(req, res, body);
    const context = { req, res };
    const request = new RequestView(req, path) as unknown as Request;
    const result = await yoga.getResultForParams({ params, request }, context);
    if (isAsyncIterable(result)) {
      // Unreachable while MAY_SUBSCRIBE sends every possible subscription to yoga; never leak one.
      await result[Symbol.asyncIterator]().return?.();
      throw new Error('A subscription reached the JSON POST path');
    }
    if (result === undefined) throw new Error('yoga answered no result');
    sendResult(res, result, mediaType);
  }

  return (req, res) => {
    if (req.method !== 'POST' || req.url !== path || options.isDraining()) return false;
    const { headers } = req;
    if (headers.origin !== undefined || headers['content-encoding'] !== undefined) return false;
    if (!isJsonBody(headers['content-type'])) return false;
    const length = headers['content-length'];
    // No body (length 0) is yoga's to refuse: @whatwg-node reads an empty `req.body` as none at all.
    if (length !== undefined && !(Number(length) > 0 && Number(length) <= maxRequestBytes)) return false;
    const mediaType = answerType(headers.accept);
    if (mediaType === null) return false;
    serve(req, res, mediaType).catch((error: unknown) => {
      // A client that hung up mid-body is not an error of ours, and there is no one left to answer.
      if (req.destroyed && !req.complete) return res.destroy();
      yoga.logger.error(error);
      if (res.headersSent) return res.destroy();
      send(
        res,
        500,
        { 'content-type': `${mediaType}; charset=utf-8` },
        JSON.stringify({ errors: [{ message: 'Unexpected error.' }] }),
      );
    });
    return true;
  };
}
