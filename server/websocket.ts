import type { IncomingMessage, Server } from 'node:http';
import { type Server as GraphQLWsServer, handleProtocols, makeServer } from 'graphql-ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { MiB } from '../queues/core/index.js';
import { CloseCode, closeReason } from './close-codes.js';
import type { InFlight } from './in-flight.js';
import { createSharedSubscriptions, type SharedSubscriptionsOptions } from './shared-subscriptions.js';
import type { WebSocketAuth } from './websocket-auth.js';
import { type Enveloping, type Extra, operationHooks, type SendFrame } from './websocket-operations.js';

export type { Enveloping, Extra } from './websocket-operations.js';

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

type GraphQLWs = GraphQLWsServer<Extra>;

/** Sends one frame, unless the socket holds more than `maxBufferedBytes` unsent: then it is closed instead. */
function frameSender(maxBufferedBytes: number): SendFrame {
  return (socket, data, done) => {
    if (socket.readyState !== socket.OPEN) {
      done(new Error('The socket is closed'));
    } else if (socket.bufferedAmount > maxBufferedBytes) {
      socket.close(CloseCode.SendBufferFull, 'Send buffer full: the client reads too slowly');
      done(new Error('The send buffer is full'));
    } else {
      socket.send(data, (error) => done(error ?? undefined));
    }
  };
}

/** Pings the socket every `keepAliveMs`, cutting it when the previous ping got no pong; answers the stop. */
function keepAlive(socket: WebSocket, keepAliveMs: number): () => void {
  if (keepAliveMs <= 0) return () => {};
  let awaitingPong = false;
  const pings = setInterval(() => {
    if (socket.readyState !== socket.OPEN) return;
    // No pong since the last ping: the peer is gone or stuck; do not wait for TCP to notice.
    if (awaitingPong) return socket.terminate();
    awaitingPong = true;
    socket.ping();
  }, keepAliveMs);
  socket.on('pong', () => {
    awaitingPong = false;
  });
  return () => clearInterval(pings);
}

/** What one socket's handling needs from its server. */
interface SocketSettings {
  graphqlWs: GraphQLWs;
  sendFrame: SendFrame;
  keepAliveMs: number;
  errorReason: (error: unknown) => string;
}

/** Hands a new socket to graphql-ws, with keep-alive pings and close codes for what goes wrong. */
function openSocket(settings: SocketSettings, socket: WebSocket, request: IncomingMessage): void {
  const { errorReason, sendFrame } = settings;
  socket.once('error', (error) => {
    socket.close(CloseCode.InternalServerError, errorReason(error));
  });
  const stopPings = keepAlive(socket, settings.keepAliveMs);
  const closed = settings.graphqlWs.opened(
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
    stopPings();
    void closed(code, String(reason));
  });
}

/**
 * Closes every socket with 1001 (going away), waits for the close handshakes (cutting sockets that do
 * not finish within `closeTimeoutMs`), then stops accepting upgrades.
 */
async function closeAll(wss: WebSocketServer, closeTimeoutMs: number, auth: WebSocketAuth | undefined) {
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
    timer = setTimeout(resolve, closeTimeoutMs);
  });
  await Promise.race([allClosed, timedOut]);
  clearTimeout(timer);
  for (const socket of wss.clients) socket.terminate();
  auth?.close();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

/**
 * graphql-ws on the HTTP server's port and GraphQL path. Every operation goes through
 * `yoga.getEnveloped`, as graphql-yoga documents for graphql-ws, so a websocket operation gets the same
 * context and the same plugins (masking, limits, auth) as the same operation over HTTP
 * (websocket-operations.ts).
 *
 * This is graphql-ws's `ws` adapter (graphql-ws/use/ws) written out, to add what it lacks: a bound on
 * each socket's send buffer, a limit of operations per socket, shared execution of identical live
 * subscriptions, and a shutdown that waits for the close handshakes. The protocol itself is graphql-ws's
 * `makeServer`, untouched.
 */
export function attachWebSocket(options: WebSocketOptions) {
  const { auth } = options;
  const shared = options.shareSubscriptions === false ? null : createSharedSubscriptions(options.sharing);
  const sendFrame = frameSender(options.maxBufferedBytes ?? 16 * MiB);
  const graphqlWs = makeServer<Record<string, unknown> | undefined, Extra>({
    connectionInitWaitTimeout: options.connectionInitTimeoutMs ?? 3_000,
    onConnect: auth
      ? (ctx) => auth.connect(ctx.connectionParams, ctx.extra.socket, ctx.extra.request)
      : undefined,
    ...operationHooks({
      yoga: options.yoga,
      inFlight: options.inFlight,
      isDraining: options.isDraining,
      maxOperations: options.maxOperationsPerSocket ?? 100,
      auth,
      shared,
      sendFrame,
    }),
  });
  const errorReason = (error: unknown) =>
    options.production
      ? 'Internal server error'
      : closeReason(error instanceof Error ? error.message : String(error));

  const wss = new WebSocketServer({
    server: options.server,
    path: options.path ?? '/graphql',
    handleProtocols: (protocols) => handleProtocols(protocols),
  });
  // ws re-emits the HTTP server's errors here; the gateway logs those on the server itself.
  wss.on('error', () => {});
  const socketSettings = { graphqlWs, sendFrame, keepAliveMs: options.keepAliveMs ?? 12_000, errorReason };
  wss.on('connection', (socket, request) => openSocket(socketSettings, socket, request));

  let disposing: Promise<void> | null = null;
  return {
    wss,
    /** Live subscriptions sharing an execution (see shared-subscriptions.ts). */
    get shared() {
      return shared?.size ?? { groups: 0, listeners: 0 };
    },
    /**
     * What this instance holds for its websocket clients now: results waiting in shared subscribers'
     * buffers, and frames in the sockets' send buffers. Bounded per client, whatever the client reads.
     */
    get heldBytes() {
      let bytes = shared?.heldBytes ?? 0;
      for (const socket of wss.clients) bytes += socket.bufferedAmount;
      return bytes;
    },
    /**
     * Closes every socket with 1001 (going away), stops accepting upgrades, and waits for the close
     * handshakes (cutting sockets that do not finish within `closeTimeoutMs`). Idempotent.
     */
    dispose(): Promise<void> {
      disposing ??= closeAll(wss, options.closeTimeoutMs ?? 3_000, auth);
      return disposing;
    },
    /** Drops sockets that did not finish their close handshake in time. */
    terminate(): void {
      for (const socket of wss.clients) socket.terminate();
    },
  };
}

export type AttachedWebSocket = ReturnType<typeof attachWebSocket>;
