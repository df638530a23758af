import { type ExecutionResult, GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { ErrorCode } from '../queues/core/index.js';

export const SUBSCRIPTION_DRAINED_MESSAGE =
  'Switchyard is shutting down; subscribe again (another instance will serve you)';

/** The last result a drained stream sends: the client should resubscribe, elsewhere. */
const drainedResult = (): ExecutionResult => ({
  errors: [new GraphQLError(SUBSCRIPTION_DRAINED_MESSAGE, { extensions: { code: ErrorCode.Unavailable } })],
});

/** A plugin with the trigger that ends the streams it wrapped. */
export type SubscriptionDrainPlugin = Plugin & {
  /** Ends every HTTP subscription now; each gets a final UNAVAILABLE result. Idempotent. */
  drain(): void;
};

/**
 * Subscriptions over HTTP (Server-Sent Events) would keep their request in flight forever, and a
 * graceful shutdown waits for requests in flight. On `drain()`, every such stream sends one last
 * result, an UNAVAILABLE error saying to subscribe again, and ends, so its response completes.
 * Websocket subscriptions are left alone: their sockets close with 1001, and graphql-ws clients
 * resubscribe on their own after reconnecting, which a final error would prevent.
 */
export function useSubscriptionDrain(): SubscriptionDrainPlugin {
  let drained = false;
  const waiting = new Set<() => void>();
  return {
    drain() {
      drained = true;
      for (const wake of [...waiting]) wake();
    },
    onSubscribe({ args }) {
      const overWebSocket = typeof args.contextValue === 'object' && 'socket' in args.contextValue;
      if (overWebSocket) return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) setResult(endOnDrain(result, () => drained, waiting));
        },
      };
    },
  };
}

function endOnDrain(
  source: AsyncIterable<ExecutionResult>,
  isDrained: () => boolean,
  waiting: Set<() => void>,
): AsyncIterableIterator<ExecutionResult> {
  const upstream = source[Symbol.asyncIterator]();
  let finished = false;
  let sentLast = false;
  const finish = () => {
    finished = true;
    void upstream.return?.();
  };
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    async next(): Promise<IteratorResult<ExecutionResult>> {
      if (finished) return { value: undefined, done: true };
      if (isDrained()) {
        finish();
        if (sentLast) return { value: undefined, done: true };
        sentLast = true;
        return { value: drainedResult(), done: false };
      }
      let wake = () => {};
      const drainedNow = new Promise<'drained'>((resolve) => {
        wake = () => resolve('drained');
        waiting.add(wake);
      });
      try {
        const next = await Promise.race([upstream.next(), drainedNow]);
        if (next !== 'drained') return next;
      } finally {
        waiting.delete(wake);
      }
      return iterator.next();
    },
    async return(): Promise<IteratorResult<ExecutionResult>> {
      finish();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
      finish();
      throw error instanceof Error ? error : new Error(String(error));
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
