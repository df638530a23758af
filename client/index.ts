/**
 * A small typed client for services that talk to a Switchyard gateway: publish, receive and consume
 * with acks, dead letters, and webhook verification. Every operation is a typed document generated
 * from schema.graphql (`npm run codegen`), so a schema change that breaks the client fails the type
 * check. Refusals throw a {@link SwitchyardError} carrying the gateway's `extensions.code`.
 */
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  type ConsumeOptions,
  type Consumer,
  closeCode,
  createConsumer,
  type Delivery,
  type NackOptions,
  REFUSED_KEY_CLOSE,
} from './consume.js';
import { SwitchyardError } from './errors.js';
import {
  ClientAckDocument,
  ClientDeadLetterDocument,
  type ClientDeadLetterFragment,
  ClientDeadLettersDocument,
  type ClientDeadLettersQuery,
  type ClientDeliveryFragment,
  ClientDiscardDeadLetterDocument,
  ClientDiscardDeadLettersDocument,
  ClientNackDocument,
  ClientPublishBatchDocument,
  ClientPublishDocument,
  type ClientPublishMutation,
  ClientReceiveDocument,
  ClientReplayDeadLetterDocument,
  ClientReplayDeadLettersDocument,
  type ClientReplayDeadLettersMutation,
  type DeadLetterFilter,
  type PublishInput,
} from './generated/graphql.js';
import { createHttpTransport, type Execute } from './http.js';

export type { ConsumeOptions, Consumer, Delivery, NackOptions } from './consume.js';
export {
  GATEWAY_ERROR_CODES,
  type GatewayErrorCode,
  type GraphQLErrorBody,
  SwitchyardError,
  type SwitchyardErrorCode,
} from './errors.js';
export type {
  ClientDeadLetterFragment as DeadLetter,
  ClientMessageFragment as Message,
  DeadLetterFilter,
  FailureReason,
  PublishInput,
} from './generated/graphql.js';
export {
  type VerifyWebhookOptions,
  verifyWebhook,
  type WebhookHeaders,
  type WebhookMessage,
} from './webhooks.js';

export interface SwitchyardClientOptions {
  /** The gateway's GraphQL endpoint, e.g. `http://127.0.0.1:4000/graphql`; websockets use the same URL. */
  url: string;
  /**
   * An API key, sent as `Authorization: Bearer …` over HTTP and in the websocket's connection_init.
   * @default none: the gateway then serves only what it allows without a key (loopback callers)
   */
  apiKey?: string;
  /**
   * How long an HTTP request may take before it fails with `TIMEOUT`; `receive` adds its `waitMs`.
   * @default 30000
   */
  timeoutMs?: number;
  /**
   * How often the websocket reconnects after it drops (graphql-ws `retryAttempts`, with its backoff);
   * running consumers resubscribe by themselves. Unacked deliveries of the lost socket go back to the
   * queue, and acking them then answers `NOT_FOUND`.
   * @default 5
   */
  retryAttempts?: number;
  /**
   * The fetch to use for HTTP.
   * @default globalThis.fetch
   */
  fetch?: typeof fetch;
  /**
   * Extra headers on every HTTP request (not the websocket), e.g. for a proxy.
   * @default {}
   */
  headers?: Readonly<Record<string, string>>;
}

export type PublishResult = ClientPublishMutation['publish'];
export type ReplayResult = ClientReplayDeadLettersMutation['replayDeadLetters'];
export type DeadLetterPage = ClientDeadLettersQuery['deadLetters'];

export interface ReceiveOptions {
  /** The topic of the CONSUMER queue. */
  topic: string;
  /** The CONSUMER queue to take messages from. */
  queue: string;
  /**
   * The most deliveries to take.
   * @default 1
   */
  max?: number;
  /**
   * How long to wait for the first delivery when none is waiting.
   * @default 0 (answer at once, maybe with none)
   */
  waitMs?: number;
}

export interface DeadLetterListOptions {
  /** Which dead letters: by topic, queue, reason, time, or a substring of the error or message id. */
  filter?: DeadLetterFilter;
  /**
   * The page size.
   * @default 50
   */
  first?: number;
  /** The previous page's `pageInfo.endCursor`. */
  after?: string;
}

export interface ReplayOptions {
  /** Replay with this payload instead, checked like a publish. */
  payload?: unknown;
  /** Replay into this queue of the same topic instead of the one it failed in. */
  toQueue?: string;
}

export interface DeadLetters {
  /** One page, newest first; `totalCount` counts every dead letter the filter selects. */
  list(options?: DeadLetterListOptions): Promise<DeadLetterPage>;
  /** One dead letter by its id (`<topic>/<queue>/<message id>`), or null. */
  get(id: string): Promise<ClientDeadLetterFragment | null>;
  /** Delivers it again, same message id, fresh attempt count. */
  replay(id: string, options?: ReplayOptions): Promise<ReplayResult>;
  /**
   * Replays every dead letter the filter selects, newest first.
   * @param limit at most this many (the gateway's default is 1000, its ceiling 100000)
   */
  replayMatching(filter: DeadLetterFilter, limit?: number): Promise<ReplayResult>;
  /** Removes it for good; false when it was already gone. */
  discard(id: string): Promise<boolean>;
  /** Removes every dead letter the filter selects; answers how many. */
  discardMatching(filter: DeadLetterFilter): Promise<number>;
}

export interface SwitchyardClient {
  /** Answers once the message is durably in Redis, in every queue it matched. */
  publish(input: PublishInput): Promise<PublishResult>;
  /** Publishes every message or none. */
  publishBatch(inputs: readonly PublishInput[]): Promise<PublishResult[]>;
  /** Takes up to `max` deliveries of a CONSUMER queue over HTTP; settle each with its ack or nack. */
  receive(options: ReceiveOptions): Promise<Delivery[]>;
  /** Deliveries of a CONSUMER queue pushed over the websocket, as an async iterator. */
  consume(options: ConsumeOptions): Consumer;
  /** Acknowledges a delivery by its id (from `receive` or `consume`, on any connection). */
  ack(deliveryId: string): Promise<void>;
  /** Fails a delivery by its id: retried by the queue's policy, or dead-lettered. */
  nack(deliveryId: string, options?: NackOptions): Promise<void>;
  deadLetters: DeadLetters;
  /** Ends the consumers and closes the websocket; idempotent. */
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRY_ATTEMPTS = 5;

/** The client's dead-letter operations, over HTTP. */
function deadLettersOver(execute: Execute): DeadLetters {
  return {
    async list({ filter, first, after } = {}) {
      return (await execute(ClientDeadLettersDocument, { filter, first, after })).deadLetters;
    },
    async get(id) {
      return (await execute(ClientDeadLetterDocument, { id })).deadLetter;
    },
    async replay(id, replayOptions = {}) {
      return (await execute(ClientReplayDeadLetterDocument, { id, ...replayOptions })).replayDeadLetter;
    },
    async replayMatching(filter, limit) {
      return (await execute(ClientReplayDeadLettersDocument, { filter, limit })).replayDeadLetters;
    },
    async discard(id) {
      return (await execute(ClientDiscardDeadLetterDocument, { id })).discardDeadLetter;
    },
    async discardMatching(filter) {
      return (await execute(ClientDiscardDeadLettersDocument, { filter })).discardDeadLetters;
    },
  };
}

/** Delivery settling over HTTP: by id, or as methods of a delivery. */
function settlingOver(execute: Execute) {
  async function ack(deliveryId: string): Promise<void> {
    await execute(ClientAckDocument, { deliveryId });
  }
  async function nack(deliveryId: string, nackOptions: NackOptions = {}): Promise<void> {
    await execute(ClientNackDocument, { deliveryId, ...nackOptions });
  }
  const settleable = (delivery: ClientDeliveryFragment): Delivery => ({
    ...delivery,
    ack: () => ack(delivery.id),
    nack: (nackOptions) => nack(delivery.id, nackOptions),
  });
  return { ack, nack, settleable };
}

/** The websocket, opened on the first `consume`, and the consumers running on it. */
class LiveConnection {
  private socket: Client | null = null;
  private readonly consumers = new Set<Consumer>();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly url: URL,
    private readonly options: SwitchyardClientOptions,
    private readonly settleable: (delivery: ClientDeliveryFragment) => Delivery,
  ) {}

  private liveSocket(): Client {
    if (this.closing) throw new SwitchyardError('The client is closed', 'UNAVAILABLE');
    const { apiKey, retryAttempts } = this.options;
    this.socket ??= createClient({
      url: this.url.href.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      retryAttempts: retryAttempts ?? DEFAULT_RETRY_ATTEMPTS,
      // graphql-ws retries every close, 4403 included; a refused or revoked key stays refused.
      shouldRetry: (event) => closeCode(event) !== null && closeCode(event) !== REFUSED_KEY_CLOSE,
      // Failures reach the consumer that was running; graphql-ws would print them otherwise.
      onNonLazyError: () => {},
    });
    return this.socket;
  }

  consume(consumeOptions: ConsumeOptions): Consumer {
    const consumer = createConsumer(this.liveSocket(), consumeOptions, this.settleable);
    this.consumers.add(consumer);
    const close = consumer.close;
    consumer.close = () => {
      this.consumers.delete(consumer);
      return close();
    };
    return consumer;
  }

  /** Ends the consumers and closes the websocket; idempotent, and every step runs even if one fails. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const results = await Promise.allSettled([
        ...[...this.consumers].map((consumer) => consumer.close()),
        this.socket?.dispose(),
      ]);
      this.socket = null;
      const failed = results.filter((result) => result.status === 'rejected');
      if (failed.length > 0)
        throw new AggregateError(
          failed.map((result) => result.reason),
          'close failed',
        );
    })();
    return this.closing;
  }
}

export function createSwitchyardClient(options: SwitchyardClientOptions): SwitchyardClient {
  const url = new URL(options.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new SwitchyardError(`url must be http: or https:, got ${url.protocol}`, 'BAD_USER_INPUT');
  const execute = createHttpTransport({
    url: url.href,
    apiKey: options.apiKey,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    fetch: options.fetch ?? globalThis.fetch,
    headers: options.headers ?? {},
  });
  const { ack, nack, settleable } = settlingOver(execute);
  const live = new LiveConnection(url, options, settleable);
  return {
    async publish(input) {
      return (await execute(ClientPublishDocument, { input })).publish;
    },
    async publishBatch(inputs) {
      return (await execute(ClientPublishBatchDocument, { inputs: [...inputs] })).publishBatch;
    },
    async receive({ topic, queue, max, waitMs }) {
      const { receive } = await execute(
        ClientReceiveDocument,
        // Unset arguments stay out of the JSON, so the schema's defaults apply (null would not).
        { topic, queue, max, waitMs },
        { extraTimeoutMs: waitMs ?? 0 },
      );
      return receive.map(settleable);
    },
    consume: (consumeOptions) => live.consume(consumeOptions),
    ack,
    nack,
    deadLetters: deadLettersOver(execute),
    close: () => live.close(),
  };
}
