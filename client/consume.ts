/**
 * `consume` over graphql-ws as an async iterator: each delivery is pushed by the gateway, at most
 * `prefetch` unacked at a time, and carries its own ack and nack (docs/PROTOCOL.md).
 */
import type { Client } from 'graphql-ws';
import { fromGraphQLErrors, isGraphQLErrors, SwitchyardError } from './errors.js';
import {
  ClientConsumeDocument,
  type ClientConsumeSubscription,
  type ClientConsumeSubscriptionVariables,
  type ClientDeliveryFragment,
  type FailureReason,
} from './generated/graphql.js';

export interface ConsumeOptions {
  /** The topic of the CONSUMER queue. */
  topic: string;
  /** The CONSUMER queue to take deliveries from; consumers of one queue share its messages. */
  queue: string;
  /**
   * How many deliveries the gateway pushes before it waits for an ack or nack.
   * @default 10
   */
  prefetch?: number;
}

/** A delivery as the gateway answered it (id, queue, attempt, deliverBy, message), with its settling. */
export interface Delivery extends ClientDeliveryFragment {
  /** Acknowledges the delivery; `NOT_FOUND` once it is settled, released or past `deliverBy`. */
  ack(): Promise<void>;
  /** Fails the delivery: retried by the queue's policy, or dead-lettered. */
  nack(options?: NackOptions): Promise<void>;
}

export interface NackOptions {
  /**
   * Why it failed. `REJECTED` and `VALIDATION` dead-letter the message at once; the others are retried.
   * @default PROCESSING (the gateway's choice when none is given)
   */
  reason?: FailureReason;
  /**
   * The error to record in the attempt history, up to 4096 characters.
   * @default 'rejected by the consumer'
   */
  error?: string;
  /**
   * The least wait before the retry, 0 to 86400000 ms; the queue's backoff is never shortened.
   * @default the queue's backoff
   */
  retryAfterMs?: number;
}

/**
 * An async iterator of deliveries, read by one loop at a time; `close()` (or leaving a `for await`
 * loop) ends the subscription. A refusal (`NOT_FOUND`, `BAD_USER_INPUT` for a WEBHOOK queue, …) or a
 * lost connection is thrown from the loop as a {@link SwitchyardError}.
 */
export interface Consumer extends AsyncIterableIterator<Delivery> {
  /** Ends the subscription: its unacked deliveries go back to the queue at once. Idempotent. */
  close(): Promise<void>;
}

/** The close code the gateway uses for a refused or revoked key (docs/PROTOCOL.md). */
export const REFUSED_KEY_CLOSE = 4403;

/** The code of a websocket close event (ws's or the DOM's), or null for anything else. */
export function closeCode(event: unknown): number | null {
  return typeof event === 'object' && event !== null && 'code' in event && typeof event.code === 'number'
    ? event.code
    : null;
}

/** Turns a graphql-ws sink error (GraphQL errors, a close event, an Error) into a SwitchyardError. */
export function socketError(error: unknown): SwitchyardError {
  if (isGraphQLErrors(error)) return fromGraphQLErrors(error);
  const code = closeCode(error);
  if (code !== null) {
    const reason = typeof error === 'object' && error && 'reason' in error ? String(error.reason) : '';
    // Anything but a refused key means: try again later.
    return new SwitchyardError(
      reason || `The live connection closed (${code})`,
      code === REFUSED_KEY_CLOSE ? 'UNAUTHENTICATED' : 'UNAVAILABLE',
      { cause: error },
    );
  }
  const message = error instanceof Error ? error.message : 'The live connection failed';
  return new SwitchyardError(message, 'UNAVAILABLE', { cause: error });
}

export function createConsumer(
  socket: Client,
  options: ConsumeOptions,
  settle: (delivery: ClientDeliveryFragment) => Delivery,
): Consumer {
  const buffered: Delivery[] = [];
  let failure: SwitchyardError | null = null;
  let ended = false;
  let wake: () => void = () => {};
  const variables: ClientConsumeSubscriptionVariables = {
    topic: options.topic,
    queue: options.queue,
    ...(options.prefetch === undefined ? {} : { prefetch: options.prefetch }),
  };
  const stop = () => {
    ended = true;
    wake();
  };
  const unsubscribe = socket.subscribe<ClientConsumeSubscription>(
    { query: ClientConsumeDocument.toString(), variables },
    {
      next(result) {
        // A Redis outage notice (docs/PROTOCOL.md): the subscription stays, deliveries resume by themselves.
        if (
          result.errors?.length &&
          result.errors.every((error) => error.extensions?.notice === 'REDIS_OUTAGE')
        ) {
          return;
        }
        if (result.errors?.length) {
          failure ??= fromGraphQLErrors(result.errors);
          stop();
        } else if (result.data) {
          buffered.push(settle(result.data.consume));
          wake();
        }
      },
      error(error) {
        failure ??= socketError(error);
        stop();
      },
      complete: stop,
    },
  );

  const done = (): IteratorResult<Delivery> => ({ done: true, value: undefined });
  const consumer: Consumer = {
    [Symbol.asyncIterator]() {
      return consumer;
    },
    async next() {
      // Bounded by the subscription: every wake comes from a push, an error, a completion or close().
      for (;;) {
        const delivery = buffered.shift();
        if (delivery) return { done: false, value: delivery };
        if (failure) {
          const error = failure;
          failure = null;
          throw error;
        }
        if (ended) return done();
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    async return() {
      await consumer.close();
      return done();
    },
    async close() {
      if (!ended) unsubscribe();
      // Deliveries pushed but never handed out are unacked: the gateway puts them back at once.
      buffered.length = 0;
      stop();
    },
  };
  return consumer;
}
