import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { ApiKeys, Caller } from '../queues/security/index.js';
import { type Authenticator, presentedByConnection } from './auth.js';
import { CloseCode, closeReason } from './close-codes.js';

/** A revocation heard while a connect was still authenticating is remembered this long. */
const RECENT_REVOCATION_MS = 10_000;

/** Options for {@link createWebSocketAuth}. */
export interface WebSocketAuthOptions {
  /** Resolves callers (server/auth.ts), the same as for HTTP. */
  authenticator: Pick<Authenticator, 'authenticate'>;
  /** Where revocations are heard, from every instance (the engine's `apiKeys`). */
  apiKeys: Pick<ApiKeys, 'onRevoked'>;
  /**
   * Websockets one key may hold open on this instance at once; one more is closed with 1013 at
   * connection_init. Loopback callers without a key (protected mode) are not counted, as they are not
   * rate limited: nothing outside this machine can be one.
   * @default 100
   */
  maxConnectionsPerKey?: number;
}

/**
 * Who each websocket is: authenticated once, at connection_init, from its payload (`{ authorization:
 * 'Bearer …' }` or `{ apiKey }`) and its upgrade request, by the same rules as HTTP. A refusal closes
 * the socket with 4403 and the reason; a revoked key's sockets are closed with 4403 as soon as any
 * instance announces the revocation (within a second); a key past its connection cap gets 1013.
 */
export function createWebSocketAuth(options: WebSocketAuthOptions) {
  const maxConnections = options.maxConnectionsPerKey ?? 100;
  const callers = new WeakMap<WebSocket, Caller>();
  /** Open sockets per key id. */
  const byKey = new Map<string, Set<WebSocket>>();
  /** Key id → when its revocation was heard, for connects that were authenticating at that moment. */
  const recentlyRevoked = new Map<string, number>();

  const forget = (keyId: string, socket: WebSocket) => {
    const sockets = byKey.get(keyId);
    sockets?.delete(socket);
    if (sockets?.size === 0) byKey.delete(keyId);
  };

  const stopListening = options.apiKeys.onRevoked((keyId) => {
    const now = Date.now();
    for (const [id, at] of recentlyRevoked) if (now - at > RECENT_REVOCATION_MS) recentlyRevoked.delete(id);
    recentlyRevoked.set(keyId, now);
    for (const socket of byKey.get(keyId) ?? []) {
      socket.close(CloseCode.Forbidden, 'The API key was revoked');
    }
  });

  return {
    /**
     * graphql-ws's `onConnect`: authenticates the connection and answers whether to acknowledge it.
     * A refused socket is closed here, with a reason, so graphql-ws's own close (without one) is a no-op.
     */
    async connect(params: unknown, socket: WebSocket, request: IncomingMessage): Promise<boolean> {
      const verdict = await options.authenticator.authenticate(presentedByConnection(params, request), false);
      // Gone while we asked Redis: nothing to register (its 'close' has already been emitted).
      if (socket.readyState !== socket.OPEN) return false;
      if (!verdict.ok) {
        socket.close(CloseCode.Forbidden, closeReason(verdict.error.message));
        return false;
      }
      const { caller } = verdict;
      const keyId = caller.key?.id ?? null;
      if (keyId !== null) {
        if (recentlyRevoked.has(keyId)) {
          socket.close(CloseCode.Forbidden, 'The API key was revoked');
          return false;
        }
        const sockets = byKey.get(keyId) ?? new Set<WebSocket>();
        if (sockets.size >= maxConnections) {
          socket.close(
            CloseCode.TooManyConnections,
            closeReason(`At most ${maxConnections} websockets per API key on one gateway instance`),
          );
          return false;
        }
        sockets.add(socket);
        byKey.set(keyId, sockets);
        socket.once('close', () => forget(keyId, socket));
      }
      callers.set(socket, caller);
      return true;
    },
    /** The caller a socket was acknowledged for; undefined before (or without) a successful connect. */
    callerOf(socket: WebSocket): Caller | undefined {
      return callers.get(socket);
    },
    /** Open sockets of each key on this instance. */
    get connections(): ReadonlyMap<string, number> {
      return new Map([...byKey].map(([id, sockets]) => [id, sockets.size]));
    },
    /** Stops listening for revocations. Idempotent. */
    close(): void {
      stopListening();
    },
  };
}

export type WebSocketAuth = ReturnType<typeof createWebSocketAuth>;
