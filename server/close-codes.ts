import { CloseCode as GraphQLWsCloseCode } from 'graphql-ws';

/**
 * Every websocket close code this gateway sends itself, besides those graphql-ws sends on its own
 * (4400, 4401, 4403, 4406, 4408, 4409, 4429, 4500: see its PROTOCOL.md). docs/PROTOCOL.md explains each.
 */
export const CloseCode = {
  /** The gateway is shutting down; connect again (to another instance) and resubscribe. */
  GoingAway: 1001,
  /**
   * The key already holds `maxConnectionsPerKey` sockets on this instance. RFC 6455's "Try Again
   * Later": graphql-ws clients retry it with their backoff, as they should.
   */
  TooManyConnections: 1013,
  /** A message that is not graphql-ws's (graphql-ws's 4400). */
  BadRequest: GraphQLWsCloseCode.BadRequest,
  /** The connection_init credentials were refused, or the key was revoked (graphql-ws's Forbidden). */
  Forbidden: GraphQLWsCloseCode.Forbidden,
  /** The client read so slowly that `maxBufferedBytes` piled up in its socket. */
  SendBufferFull: 4413,
  /** An unexpected server error (graphql-ws's 4500). */
  InternalServerError: GraphQLWsCloseCode.InternalServerError,
} as const;

/** A close reason may hold at most 123 bytes (RFC 6455). */
const MAX_REASON_BYTES = 123;

/** The one rule for close reasons: the text, cut on a character boundary to RFC 6455's 123 bytes. */
export function closeReason(text: string): string {
  let reason = text;
  while (Buffer.byteLength(reason, 'utf8') > MAX_REASON_BYTES) reason = reason.slice(0, -1);
  return reason;
}
