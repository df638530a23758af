import type { IncomingMessage, Server } from 'node:http';
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type execute,
  GraphQLError,
  type GraphQLSchema,
  type subscribe,
} from 'graphql';
import { handleProtocols, makeServer } from 'graphql-ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { ErrorCode, MiB } from '../queues/core/index.js';
import { CloseCode, closeReason } from './close-codes.js';
import type { InFlight } from './in-flight.js';
import {
  createSharedSubscriptions,
  planSharing,
  type ShareablePlan,
  type SharedSubscriptionsOptions,
} from './shared-subscriptions.js';
import { DRAINING_MESSAGE } from './use-drain.js';
import type { WebSocketAuth } from './websocket-auth.js';

/** Shared subscriptions write without waiting while a socket holds less than this unsent. */
const SEND_LOW_WATER_BYTES = 64 * 1024;

/** Options for {@link attachWebSocket}. */
export interface WebSocketOptions {
  /** The HTTP server whose port and path the websocket shares. */
  server: Server;
  /** The yoga app; only its envelop is used, so websocket operations run through the same plugins. */
  yoga: Enveloping;
  /**
   * Path upgrades are accepted on; the same as yoga's GraphQL endpoint so clients need one URL.
   * @default '/graphql'
   */
  path?: string;
  /** Counts queries and mutations while they execute, so a drain can wait for them. */
  inFlight: InFlight;
  /** True once shutdown began: new operations are refused with UNAVAILABLE. */
  isDraining: () => boolean;
  /** Hide internal error messages in close reasons (graphql-ws would read NODE_ENV otherwise). */
  production: boolean;
  /**
   * A websocket ping goes out this often; a socket that has not answered the previous one with a
   * pong by then is terminated (dead peers and half-open connections do not hold memory forever).
   * 0 turns pings off.
   * @default 12000
   */
  keepAliveMs?: number;
  /**
   * Bytes that may wait in one socket's send buffer. Subscriptions wait for each message to be
   * written before producing the next (their own buffers drop instead), so only results of queries
   * and mutations can pile up here; past this the socket is closed with 4413.
   * @default 16 MiB
   */
  maxBufferedBytes?: number;
  /**
   * Operations (subscriptions included) one socket may have running at once; one more is refused
   * with RATE_LIMITED. Together with the per-subscription buffers this bounds a socket's memory.
   * @default 100
   */
  maxOperationsPerSocket?: number;
  /**
   * Execute identical live subscriptions once and fan the results out (shared-subscriptions.ts).
   * @default true
   */
  shareSubscriptions?: boolean;
  /** Per-subscriber buffer bounds of shared subscriptions. @default see SharedSubscriptionsOptions */
  sharing?: SharedSubscriptionsOptions;
  /**
   * On dispose, how long sockets get to finish the close handshake before they are cut.
   * @default 3000
   */
  closeTimeoutMs?: number;
  /**
   * How long a socket may wait after the upgrade before sending `ConnectionInit`; past it graphql-ws
   * closes it with 4408.
   * @default 3000
   */
  connectionInitTimeoutMs?: number;
  /**
   * Authenticates each socket at `ConnectionInit` (server/websocket-auth.ts): refused and revoked keys
   * are closed with 4403, and every operation runs as the caller the socket was acknowledged for.
   * Without it every connection is acknowledged and each operation is authenticated (or not) by the
   * yoga plugins from the connection_init payload. `dispose()` closes it.
   * @default none
   */
  auth?: WebSocketAuth;
}

/** The part of a yoga instance this module uses (yoga's `getEnveloped` satisfies it). */
export interface Enveloping {
  getEnveloped(initialContext: Record<string, unknown>): {
    schema: unknown;
    parse: (source: string) => DocumentNode;
    validate: (schema: GraphQLSchema, document: DocumentNode) => readonly GraphQLError[];
    contextFactory: () => unknown;
    execute: typeof execute;
    subscribe: typeof subscribe;
  };
}

/** The functions yoga's envelop built for one operation, carried to `execute`/`subscribe` in rootValue. */
interface EnvelopedRoot {
  execute: typeof execute;
  subscribe: typeof subscribe;
  /** Set when the operation may share its execution with identical ones. */
  sharing: ShareablePlan | null;
  /** Where a shared subscription's results are written: this operation's socket and id. */
  socket: WebSocket;
  operationId: string;
}

/** What graphql-ws's context carries as `extra` for each socket. */
export interface Extra {
  socket: WebSocket;
  request: IncomingMessage;
}

function envelopedRoot(args: ExecutionArgs): EnvelopedRoot {
  const root = args.rootValue;
  if (
    typeof root === 'object' &&
    root !== null &&
    'execute' in root &&
    typeof root.execute === 'function' &&
    'subscribe' in root &&
    typeof root.subscribe === 'function'
  ) {
    return root as EnvelopedRoot;
  }
  throw new Error('A websocket operation reached execution without going through yoga.getEnveloped');
}

/** By name, not instanceof: yoga's parser may come from graphql's CommonJS build (dual package). */
const isGraphQLError = (error: unknown): error is GraphQLError =>
  error instanceof Error && error.name === 'GraphQLError';

/** graphql-ws message types that go from server to client only. */
const SERVER_MESSAGE_TYPES: ReadonlySet<unknown> = new Set(['connection_ack', 'next', 'error']);

/** Whether a frame is a message of a type only the server sends (parsed only once handling failed). */
function sentByServerOnly(text: string): boolean {
  try {
    const message: unknown = JSON.parse(text);
    return (
      typeof message === 'object' &&
      message !== null &&
      SERVER_MESSAGE_TYPES.has((message as { type?: unknown }).type)
    );
  } catch {
    return false;
  }
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<ExecutionResult> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

/** Who is asking, as far as authentication can tell: only identical callers share an execution. */
function identityOf(params: unknown, request: IncomingMessage): string {
  const { authorization, cookie, host, origin } = request.headers;
  return JSON.stringify([params ?? null, request.socket.remoteAddress, authorization, cookie, host, origin]);
}

/**
 * graphql-ws on the HTTP server's port and GraphQL path. Every operation goes through
 * `yoga.getEnveloped`, as graphql-yoga documents for graphql-ws, so a websocket operation gets the same
 * context and the same plugins (masking, limits, auth) as the same operation over HTTP.
 *
 * This is graphql-ws's `ws` adapter (graphql-ws/use/ws) written out, to add what it lacks: a bound on
 * each socket's send buffer, a limit of operations per socket, shared execution of identical live
 * subscriptions, and a shutdown that waits for the close handshakes. The protocol itself is graphql-ws's
 * `makeServer`, untouched.
 */
export function attachWebSocket(options: WebSocketOptions) {
  const { yoga, inFlight } = options;
  const keepAliveMs = options.keepAliveMs ?? 12_000;
  const maxBufferedBytes = options.maxBufferedBytes ?? 16 * MiB;
  const maxOperations = options.maxOperationsPerSocket ?? 100;
  const shared = options.shareSubscriptions === false ? null : createSharedSubscriptions(options.sharing);
  /** Sends one frame; `done` once it is written out. Past `maxBufferedBytes` the socket is closed instead. */
  function sendFrame(socket: WebSocket, data: string, done: (error?: Error) => void): void {
    if (socket.readyState !== socket.OPEN) {
      done(new Error('The socket is closed'));
    } else if (socket.bufferedAmount > maxBufferedBytes) {
      socket.close(CloseCode.SendBufferFull, 'Send buffer full: the client reads too slowly');
      done(new Error('The send buffer is full'));
    } else {
      socket.send(data, (error) => done(error ?? undefined));
    }
  }

  const errorReason = (error: unknown) =>
    options.production
      ? 'Internal server error'
      : closeReason(error instanceof Error ? error.message : String(error));

  const { auth } = options;
  const graphqlWs = makeServer<Record<string, unknown> | undefined, Extra>({
    connectionInitWaitTimeout: options.connectionInitTimeoutMs ?? 3_000,
    onConnect: auth
      ? (ctx) => auth.connect(ctx.connectionParams, ctx.extra.socket, ctx.extra.request)
      : undefined,
    execute: (args) => inFlight.track(envelopedRoot(args).execute(args)),
    // A subscription runs until the socket closes; a drain ends it with 1001 instead of waiting for it.
    subscribe: async (args) => {
      const root = envelopedRoot(args);
      const result = await root.subscribe(args);
      // Refusals (auth, NOT_FOUND...) and unshareable streams go to this subscriber alone.
      if (!shared || !root.sharing || !isAsyncIterable(result)) return result;
      // The frame graphql-ws would send for a `next` of this operation, around the shared serialized result.
      const head = `{"id":${JSON.stringify(root.operationId)},"type":"next","payload":`;
      const { socket } = root;
      return shared.join(root.sharing, result, (json, resume) => {
        const frame = `${head}${json}}`;
        // Below the low-water mark the frame is queued and the next may follow at once, with no callback
        // per delivery; above it, the writer waits until this frame is written out.
        if (socket.readyState === socket.OPEN && socket.bufferedAmount < SEND_LOW_WATER_BYTES) {
          socket.send(frame);
          return true;
        }
        sendFrame(socket, frame, resume);
        return false;
      });
    },
    onSubscribe: async (ctx, id, params) => {
      if (options.isDraining()) {
        return [new GraphQLError(DRAINING_MESSAGE, { extensions: { code: ErrorCode.Unavailable } })];
      }
      // A socket being closed (its key revoked, say) starts nothing more, even if frames still arrive.
      if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) {
        return [
          new GraphQLError('The websocket is closing', { extensions: { code: ErrorCode.Unavailable } }),
        ];
      }
      // graphql-ws registers the operation before this hook, so it counts itself.
      if (Object.keys(ctx.subscriptions).length > maxOperations) {
        return [
          new GraphQLError(`At most ${maxOperations} operations may run at once on one websocket`, {
            extensions: { code: ErrorCode.RateLimited, maxOperationsPerSocket: maxOperations },
          }),
        ];
      }
      // The caller acknowledged at ConnectionInit: use-auth.ts takes it as it is and only charges its
      // rate limit, so an operation costs no Redis lookup of the key.
      const caller = auth?.callerOf(ctx.extra.socket);
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...ctx,
        req: ctx.extra.request,
        socket: ctx.extra.socket,
        params,
        ...(caller ? { auth: caller } : {}),
      });
      let document: DocumentNode;
      try {
        document = parse(params.query);
      } catch (error) {
        // A syntax error is the client's; anything else is ours and closes the socket as graphql-ws decides.
        if (isGraphQLError(error)) return [error];
        throw error;
      }
      let errors: readonly GraphQLError[];
      try {
        errors = validate(schema as GraphQLSchema, document);
      } catch (error) {
        // graphql-armor's limits throw their refusal from inside validation (propagateOnRejection).
        if (isGraphQLError(error)) return [error];
        throw error;
      }
      if (errors.length > 0) return errors;
      const sharing = shared
        ? planSharing(
            document,
            params.operationName,
            identityOf(ctx.connectionParams, ctx.extra.request),
            params.variables,
            params.query,
          )
        : null;
      const root: EnvelopedRoot = { execute, subscribe, sharing, socket: ctx.extra.socket, operationId: id };
      return {
        schema: schema as GraphQLSchema,
        operationName: params.operationName ?? null,
        document,
        variableValues: params.variables ?? null,
        contextValue: await contextFactory(),
        rootValue: root,
      };
    },
  });

  const wss = new WebSocketServer({
    server: options.server,
    path: options.path ?? '/graphql',
    handleProtocols: (protocols) => handleProtocols(protocols),
  });
  // ws re-emits the HTTP server's errors here; the gateway logs those on the server itself.
  wss.on('error', () => {});

  wss.on('connection', (socket, request) => {
    socket.once('error', (error) => {
      socket.close(CloseCode.InternalServerError, errorReason(error));
    });

    let awaitingPong = false;
    const pings =
      keepAliveMs > 0
        ? setInterval(() => {
            if (socket.readyState !== socket.OPEN) return;
            // No pong since the last ping: the peer is gone or stuck; do not wait for TCP to notice.
            if (awaitingPong) return socket.terminate();
            awaitingPong = true;
            socket.ping();
          }, keepAliveMs)
        : null;
    socket.on('pong', () => {
      awaitingPong = false;
    });

    const closed = graphqlWs.opened(
      {
        protocol: socket.protocol,
        // Resolved once written out, so each subscription sends its next result only after this one.
        // A closed socket or a full buffer resolves too: graphql-ws then finds the socket gone.
        send: (data) => new Promise<void>((resolve) => sendFrame(socket, data, () => resolve())),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', async (data) => {
            const text = String(data);
            try {
              await handle(text);
            } catch (error) {
              // graphql-ws throws on a well-formed message only a server sends: the client's mistake, not ours.
              if (sentByServerOnly(text)) socket.close(CloseCode.BadRequest, 'Invalid message received');
              else socket.close(CloseCode.InternalServerError, errorReason(error));
            }
          }),
      },
      { socket, request },
    );

    socket.once('close', (code, reason) => {
      if (pings) clearInterval(pings);
      void closed(code, String(reason));
    });
  });

  let disposing: Promise<void> | null = null;

  return {
    wss,
    /** Live subscriptions sharing an execution (see shared-subscriptions.ts). */
    get shared() {
      return shared?.size ?? { groups: 0, listeners: 0 };
    },
    /**
     * Closes every socket with 1001 (going away), stops accepting upgrades, and waits for the close
     * handshakes (cutting sockets that do not finish within `closeTimeoutMs`). Idempotent.
     */
    dispose(): Promise<void> {
      disposing ??= (async () => {
        const sockets = [...wss.clients];
        const allClosed = Promise.all(
          sockets.map(
            (socket) =>
              new Promise<void>((resolve) => {
                if (socket.readyState === socket.CLOSED) return resolve();
                socket.once('close', () => resolve());
              }),
          ),
        );
        for (const socket of sockets) socket.close(CloseCode.GoingAway, 'The gateway is shutting down');
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, options.closeTimeoutMs ?? 3_000);
        });
        await Promise.race([allClosed, timedOut]);
        clearTimeout(timer);
        for (const socket of wss.clients) socket.terminate();
        auth?.close();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })();
      return disposing;
    },
    /** Drops sockets that did not finish their close handshake in time. */
    terminate(): void {
      for (const socket of wss.clients) socket.terminate();
    },
  };
}

export type AttachedWebSocket = ReturnType<typeof attachWebSocket>;
