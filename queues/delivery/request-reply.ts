import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ErrorCode, MINUTE, SwitchyardError } from '../core/index.js';
import type { Keys } from '../redis/index.js';

/**
 * Request-reply (RabbitMQ's direct reply-to, over Redis). A request is published with a reply address
 * of the gateway instance that waits, a pub/sub channel of its own (keys.replies); a replier (a
 * consumer's `reply`, a webhook's 2xx body) first claims the request with `SET NX` on its claim key,
 * and only the claimer PUBLISHes. The waiter claims it too when it gives up, so a reply that comes too
 * late is dropped, and counted, like a second one. docs/PATTERNS.md has the whole story.
 */

/** The longest a request may wait for its reply. */
export const MAX_REQUEST_TIMEOUT_MS = MINUTE;

/**
 * How long a claim key lives: longer than any request waits, so a claim outlives its waiter. A reply
 * after that still finds no one waiting on the instance and is counted there (as late).
 */
const CLAIM_TTL_MS = 2 * MAX_REQUEST_TIMEOUT_MS;

/**
 * How long a waiter that lost the race for its own claim (a reply claimed it in the same instant)
 * waits for that reply's PUBLISH before giving up: one round trip, with room for a slow machine.
 */
const CLAIMED_GRACE_MS = 1_000;

/** Why a reply was dropped: a second one, one after the waiter gave up, or one nobody heard. */
export type ReplyDropReason = 'duplicate' | 'late' | 'unheard';

/** What a request answers: the first reply. */
export interface Reply {
  /** The request's message id. */
  messageId: string;
  /** The queue whose consumer or endpoint answered. */
  queue: string;
  payload: unknown;
  headers: Record<string, string>;
  repliedAt: Date;
}

/** What travels on a reply channel: a reply, or a refusal the waiting request answers with. */
type Wire =
  | { messageId: string; queue: string; payload: unknown; headers: Record<string, string>; repliedAt: string }
  | { messageId: string; queue: string; error: { code: ErrorCode; message: string } };

/** The claim values: who decided the request's fate. */
const CLAIMED_BY_REPLY = 'reply';
const CLAIMED_BY_WAITER = 'gone';

/** What sending a reply needs of a client: claim, then publish. */
export type ReplyClient = Pick<Redis, 'set' | 'publish'>;

export interface ReplySenderOptions {
  client: ReplyClient;
  keys: Keys;
  /** The size limit of a topic's messages, which replies to its requests keep too. */
  maxBytes(topic: string): Promise<number>;
}

/**
 * The replying side, used by consumers and webhook workers on any instance: it knows a reply address
 * when it sees one, claims the request and publishes the answer, and counts what it drops.
 */
export function createReplySender(options: ReplySenderOptions) {
  const { client, keys } = options;
  const dropListeners = new Set<(reason: ReplyDropReason) => void>();

  function dropped(reason: ReplyDropReason): void {
    for (const listener of dropListeners) {
      try {
        listener(reason);
      } catch {
        // A broken listener must never break a reply.
      }
    }
  }

  /** The request id of a gateway reply address, or null for any other replyTo (passed through untouched). */
  function requestOf(replyTo: string | null): string | null {
    if (replyTo === null || !replyTo.startsWith(keys.replies.addressPrefix)) return null;
    const rest = replyTo.slice(keys.replies.addressPrefix.length).split(':');
    if (rest.length !== 2 || !rest[0] || !rest[1]) return null;
    return rest[1];
  }

  /** Claims the request and publishes `wire` to its address; false when it was dropped (and counted). */
  async function send(replyTo: string, wire: Wire): Promise<boolean> {
    const requestId = requestOf(replyTo);
    if (requestId === null) return false;
    // SET NX GET: atomic, and says who holds the claim when it is not ours (Redis 7).
    const holder = await client.set(
      keys.replies.claim(requestId),
      CLAIMED_BY_REPLY,
      'PX',
      CLAIM_TTL_MS,
      'NX',
      'GET',
    );
    if (holder !== null) {
      dropped(holder === CLAIMED_BY_WAITER ? 'late' : 'duplicate');
      return false;
    }
    const heard = await client.publish(replyTo, JSON.stringify(wire));
    if (heard === 0) {
      // The waiting instance is gone (its requests failed with UNAVAILABLE when it stopped).
      dropped('unheard');
      return false;
    }
    return true;
  }

  return {
    /** True when the message was published by `request` and waits for a reply. */
    expectsReply: (replyTo: string | null) => requestOf(replyTo) !== null,
    maxBytes: options.maxBytes,
    /** Sends a reply to the request whose replyTo this is; false when it was dropped. */
    reply(
      replyTo: string,
      reply: { messageId: string; queue: string; payload: unknown; headers: Record<string, string> },
    ): Promise<boolean> {
      return send(replyTo, { ...reply, repliedAt: new Date().toISOString() });
    },
    /** Fails the request whose replyTo this is with `code` (a webhook's 2xx body that cannot be a reply). */
    refuse(
      replyTo: string,
      refusal: { messageId: string; queue: string; code: ErrorCode; message: string },
    ): Promise<boolean> {
      const { code, message, ...rest } = refusal;
      return send(replyTo, { ...rest, error: { code, message } });
    },
    /** Counts a reply dropped elsewhere (a reply channel message with nobody waiting for it). */
    dropped,
    /** Calls `listener` for every reply dropped on this instance; answers the function that stops it. */
    onDropped(listener: (reason: ReplyDropReason) => void): () => void {
      dropListeners.add(listener);
      return () => dropListeners.delete(listener);
    },
  };
}

export type ReplySender = ReturnType<typeof createReplySender>;

type PatternListener = (pattern: string, channel: string, message: string) => void;

/** What waiting needs of a subscriber-mode connection (one server's or a cluster's). */
export interface ReplySubscriber {
  psubscribe(pattern: string): Promise<unknown>;
  on(event: 'pmessage', listener: PatternListener): unknown;
  off(event: 'pmessage', listener: PatternListener): unknown;
}

export interface RequestsOptions {
  /** Claims, when a waiter gives up. */
  client: Pick<Redis, 'set'>;
  /** Subscriber-mode connection: this instance's reply channels, by one pattern. */
  subscriber: ReplySubscriber;
  keys: Keys;
  sender: ReplySender;
  onError?: (error: Error) => void;
}

interface Waiting {
  resolve(reply: Reply): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | null;
}

/** A reply as it came over the wire, for its waiter: the reply, or the refusal it carries. */
function answerOf(text: string): Reply | Error {
  let wire: Wire;
  try {
    wire = JSON.parse(text) as Wire;
  } catch (error) {
    return error as Error;
  }
  if ('error' in wire) return new SwitchyardError(wire.error.code, wire.error.message);
  return { ...wire, repliedAt: new Date(wire.repliedAt) };
}

/** Claims a request for its waiter; answers who held the claim first (null: nobody, or Redis away). */
async function claimForWaiter(options: RequestsOptions, requestId: string): Promise<string | null> {
  try {
    return await options.client.set(
      options.keys.replies.claim(requestId),
      CLAIMED_BY_WAITER,
      'PX',
      CLAIM_TTL_MS,
      'NX',
      'GET',
    );
  } catch {
    return null;
  }
}

/** The state behind createRequests: the requests waiting here, by request id. */
class Waiters {
  readonly instanceId = randomUUID();
  private readonly pattern: string;
  readonly pending = new Map<string, Waiting>();
  private listening: Promise<unknown> | null = null;
  private closed = false;

  constructor(private readonly options: RequestsOptions) {
    this.pattern = options.keys.replies.pattern(this.instanceId);
  }

  private readonly onMessage = (from: string, channel: string, text: string) => {
    if (from !== this.pattern) return;
    const requestId = channel.slice(channel.lastIndexOf(':') + 1);
    const waiting = this.pending.get(requestId);
    if (!waiting) {
      // Claimed, published, but its waiter had already given up: as late as a reply can be.
      this.options.sender.dropped('late');
      return;
    }
    this.pending.delete(requestId);
    if (waiting.timer) clearTimeout(waiting.timer);
    const answer = answerOf(text);
    if (answer instanceof Error) waiting.reject(answer);
    else waiting.resolve(answer);
  };

  /** Subscribes this instance's reply pattern, once; ioredis subscribes it again after a reconnect. */
  listen(): Promise<unknown> {
    if (!this.listening) {
      this.options.subscriber.on('pmessage', this.onMessage);
      this.listening = this.options.subscriber.psubscribe(this.pattern);
      this.listening.catch(() => {
        this.listening = null;
      });
    }
    return this.listening;
  }

  assertOpen(): void {
    if (this.closed) throw new SwitchyardError(ErrorCode.Unavailable, 'The gateway is shutting down');
  }

  async request<T>(
    timeoutMs: number,
    publish: (replyTo: string, requestId: string) => Promise<T>,
  ): Promise<Reply> {
    this.assertOpen();
    await this.listen();
    const requestId = randomUUID();
    const replyTo = this.options.keys.replies.channel(this.instanceId, requestId);
    const answered = new Promise<Reply>((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject, timer: null });
    });
    // A close during the publish rejects it before anyone awaits it; the caller still gets that refusal.
    answered.catch(() => undefined);
    try {
      await publish(replyTo, requestId);
    } catch (error) {
      this.pending.delete(requestId);
      throw error;
    }
    const waiting = this.pending.get(requestId);
    // Still pending unless a reply (or the close) came during the publish.
    if (waiting) waiting.timer = setTimeout(() => void this.giveUp(requestId, waiting, timeoutMs), timeoutMs);
    return answered;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const gone = [...this.pending.keys()];
    for (const requestId of gone) {
      this.fail(
        requestId,
        new SwitchyardError(ErrorCode.Unavailable, 'The gateway stopped while the request waited'),
      );
    }
    const { client, keys } = this.options;
    // Their late replies are then dropped as late rather than published to nobody.
    await Promise.allSettled(
      gone.map((requestId) =>
        client.set(keys.replies.claim(requestId), CLAIMED_BY_WAITER, 'PX', CLAIM_TTL_MS, 'NX'),
      ),
    );
    // No PUNSUBSCRIBE: with Redis away it would sit in the subscriber's offline queue and hold the
    // engine's QUIT of that connection until Redis came back. Nothing hears the pattern any more, and
    // the engine's close ends the connection, and the subscription with it.
    this.options.subscriber.off('pmessage', this.onMessage);
  }

  /** Gives a request up: claims it so that a reply still on its way is dropped as late. */
  private async giveUp(requestId: string, waiting: Waiting, timeoutMs: number): Promise<void> {
    const holder = await claimForWaiter(this.options, requestId);
    if (!this.pending.has(requestId)) return;
    if (holder !== null) {
      // A reply claimed it first: its PUBLISH is on the way.
      waiting.timer = setTimeout(() => this.fail(requestId, timeoutError(timeoutMs)), CLAIMED_GRACE_MS);
      return;
    }
    this.fail(requestId, timeoutError(timeoutMs));
  }

  private fail(requestId: string, error: Error): void {
    const waiting = this.pending.get(requestId);
    if (!waiting) return;
    this.pending.delete(requestId);
    if (waiting.timer) clearTimeout(waiting.timer);
    waiting.reject(error);
  }
}

/**
 * The waiting side: this instance's pending requests, each resolved by the first reply on its channel,
 * failed with TIMEOUT when none comes in time, and with UNAVAILABLE at once when the engine closes.
 */
export function createRequests(options: RequestsOptions) {
  const waiters = new Waiters(options);
  return {
    /** Refuses with UNAVAILABLE once closing: no new request starts then. */
    assertOpen: () => waiters.assertOpen(),
    /** This instance's id, part of each of its reply addresses. */
    instanceId: waiters.instanceId,
    /** Subscribes this instance's reply channels; resolves once Redis confirmed. */
    listen: () => waiters.listen(),
    /**
     * Publishes with `publish` (given the reply address and request id) and waits up to `timeoutMs`
     * for the first reply. The waiter is in place before the publish, so no reply can come too early.
     */
    request: <T>(timeoutMs: number, publish: (replyTo: string, requestId: string) => Promise<T>) =>
      waiters.request(timeoutMs, publish),
    /** How many requests wait here now. */
    get size() {
      return waiters.pending.size;
    },
    /** Fails every waiting request with UNAVAILABLE now, and stops listening. Idempotent. */
    close: () => waiters.close(),
  };
}

export type Requests = ReturnType<typeof createRequests>;

const timeoutError = (timeoutMs: number) =>
  new SwitchyardError(ErrorCode.Timeout, `No reply came within ${timeoutMs} ms`, { timeoutMs });
