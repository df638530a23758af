import { type ExecutionResult, GraphQLError } from 'graphql';
import { ErrorCode } from '../queues/core/index.js';
import type { ApiKeys } from '../queues/security/index.js';

export const REVOKED_MESSAGE = 'The API key was revoked';

const DONE: IteratorResult<ExecutionResult> = { value: undefined, done: true };

/** The last result a revoked key's stream sends. */
const revokedResult = (): ExecutionResult => ({
  errors: [new GraphQLError(REVOKED_MESSAGE, { extensions: { code: ErrorCode.Unauthenticated } })],
});

/**
 * Subscriptions over HTTP (Server-Sent Events) of each key, ended when the key is revoked on any
 * instance: each sends one last UNAUTHENTICATED result and completes, so its response ends. (Websocket
 * subscriptions end with their socket, closed with 4403 by websocket-auth.ts.)
 */
export function createRevocableStreams(revocations: Pick<ApiKeys, 'onRevoked'>) {
  const byKey = new Map<string, Set<() => void>>();
  revocations.onRevoked((keyId) => {
    for (const end of [...(byKey.get(keyId) ?? [])]) end();
  });

  function register(keyId: string, end: () => void): () => void {
    const ends = byKey.get(keyId) ?? new Set();
    ends.add(end);
    byKey.set(keyId, ends);
    return () => {
      ends.delete(end);
      if (ends.size === 0 && byKey.get(keyId) === ends) byKey.delete(keyId);
    };
  }

  return {
    /** `source`, ended with a last UNAUTHENTICATED result once key `keyId` is revoked. */
    wrap(keyId: string, source: AsyncIterable<ExecutionResult>): AsyncIterableIterator<ExecutionResult> {
      const upstream = source[Symbol.asyncIterator]();
      let revoked = false;
      let sentLast = false;
      let finished = false;
      let wake: (() => void) | null = null;
      const unregister = register(keyId, () => {
        revoked = true;
        wake?.();
      });
      const finish = () => {
        if (finished) return;
        finished = true;
        unregister();
        void upstream.return?.();
      };
      const iterator: AsyncIterableIterator<ExecutionResult> = {
        async next() {
          if (revoked && !sentLast) {
            sentLast = true;
            finish();
            return { value: revokedResult(), done: false };
          }
          if (finished) return DONE;
          const revokedNow = new Promise<'revoked'>((resolve) => {
            wake = () => resolve('revoked');
          });
          try {
            const next = await Promise.race([upstream.next(), revokedNow]);
            if (next !== 'revoked') {
              if (next.done) finish();
              return next;
            }
          } finally {
            wake = null;
          }
          return iterator.next();
        },
        async return() {
          finish();
          return DONE;
        },
        async throw(error?: unknown) {
          finish();
          throw error instanceof Error ? error : new Error(String(error));
        },
        [Symbol.asyncIterator]: () => iterator,
      };
      return iterator;
    },
    /** Streams being watched, per key: for tests. */
    get size(): number {
      let count = 0;
      for (const ends of byKey.values()) count += ends.size;
      return count;
    },
  };
}

export type RevocableStreams = ReturnType<typeof createRevocableStreams>;
