import { ErrorCode, SwitchyardError } from '../core/index.js';
import type { RedisClient } from '../redis/index.js';

/** Whether the engine's Redis answers right now, as its watchdog last saw it. */
export interface RedisWatch {
  /** False from the moment a PING went unanswered too long or the connection dropped, until one answers. */
  readonly available: boolean;
  /**
   * Told of each change, with the new state and, for an outage, how it was seen: `silent` (a PING
   * unanswered: frozen, or a partition) or `closed` (the connection dropped, or refused the PING).
   * Answers the function that stops telling.
   */
  onChange(listener: (available: boolean, how: 'silent' | 'closed' | null) => void): () => void;
  /** Stops the PINGs. Idempotent. */
  close(): void;
}

export interface RedisWatchOptions {
  /** How often a PING is sent (never more than one in flight). */
  pingIntervalMs: number;
  /** A PING unanswered this long marks Redis unavailable (a frozen server, a silent partition). */
  unresponsiveAfterMs: number;
  onError?: (error: Error) => void;
}

/**
 * The engine's watchdog on its request client: a PING every `pingIntervalMs`, at most one in flight.
 * A PING refused (no connection: the client has no offline queue) or unanswered for
 * `unresponsiveAfterMs` marks Redis unavailable at once; the next PING answered marks it available.
 * A stopped Redis is seen by the connection closing, a frozen one (SIGSTOP, a partition that drops
 * packets, a disk stall under `appendfsync always`) only by the PING's silence: both within about
 * `unresponsiveAfterMs + pingIntervalMs`.
 */
export function watchRedis(client: RedisClient, options: RedisWatchOptions): RedisWatch {
  const listeners = new Set<(available: boolean, how: 'silent' | 'closed' | null) => void>();
  let available = true;
  let inFlight = false;
  let closed = false;

  const set = (next: boolean, how: 'silent' | 'closed' | null = null) => {
    if (closed || next === available) return;
    available = next;
    for (const listener of [...listeners]) {
      try {
        listener(next, next ? null : how);
      } catch (error) {
        options.onError?.(error as Error);
      }
    }
  };

  const ping = () => {
    if (closed || inFlight) return;
    inFlight = true;
    // Checked after the event loop's I/O phase (setImmediate): when this process itself was stalled
    // past the limit, an answer already waiting in the socket is read first, and is no outage.
    const overdue = setTimeout(
      () =>
        setImmediate(() => {
          if (inFlight) set(false, 'silent');
        }),
      options.unresponsiveAfterMs,
    );
    client
      .ping()
      .then(
        () => set(true),
        () => set(false, 'closed'),
      )
      .finally(() => {
        clearTimeout(overdue);
        inFlight = false;
      });
  };

  const timer = setInterval(ping, options.pingIntervalMs);
  timer.unref();
  const onClose = () => set(false, 'closed');
  // A connection that dropped is known at once; one that is back is checked at once.
  client.on('close', onClose);
  client.on('ready', ping);

  return {
    get available() {
      return available;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      client.off('close', onClose);
      client.off('ready', ping);
      listeners.clear();
    },
  };
}

/** The refusal while the watchdog holds Redis for unresponsive: nothing was sent to Redis. */
export const redisNotAnswering = () =>
  new SwitchyardError(
    ErrorCode.Unavailable,
    'Redis is not answering (the gateway watchdog saw no PING answer for a while); nothing was sent, retry in a moment',
  );

/**
 * `fn`, refused at once with UNAVAILABLE while `watch` holds Redis for unavailable, instead of
 * waiting for a frozen Redis until the command timeout: the gate the "under 100 ms" needs.
 */
export function gated<A extends unknown[], R>(
  watch: Pick<RedisWatch, 'available' | 'onChange'>,
  fn: (...args: A) => Promise<R>,
  inFlight: () => SwitchyardError = redisStoppedAnswering,
): (...args: A) => Promise<R> {
  return (...args) => {
    if (!watch.available) return Promise.reject(redisNotAnswering());
    // A call under way when Redis froze would wait for the command timeout: it answers now, with
    // `inFlight`'s error (whatever it sent may or may not have been run). A dropped connection fails
    // the call's own commands at once, and is left to them (a publish then asks whether it was stored).
    return new Promise<R>((resolve, reject) => {
      const stop = watch.onChange((available, how) => {
        if (available || how !== 'silent') return;
        stop();
        reject(inFlight());
      });
      fn(...args).then(
        (value) => {
          stop();
          resolve(value);
        },
        (error: unknown) => {
          stop();
          reject(error);
        },
      );
    });
  };
}

/** A call under way when Redis froze: sent, perhaps run, never answered. */
export const redisStoppedAnswering = () =>
  new SwitchyardError(
    ErrorCode.Unavailable,
    'Redis stopped answering while this call was under way; retry in a moment',
  );

/** A publish under way when Redis froze: whether it was stored is unknown (queues/publish/outcome.ts). */
export const publishOutcomeUnknown = () =>
  new SwitchyardError(
    ErrorCode.Unavailable,
    'Redis stopped answering while this publish was under way, so whether it was stored is unknown: ' +
      'retry with the same idempotencyKey to publish it exactly once',
    { outcome: 'UNKNOWN' },
  );

/** `target` with `names` gated (see {@link gated}); everything else read through to `target`. */
export function gatedMethods<T extends object, K extends keyof T>(
  watch: Pick<RedisWatch, 'available' | 'onChange'>,
  target: T,
  names: K[],
): T {
  const wrapped = Object.create(target) as T;
  for (const name of names) {
    const original = target[name];
    if (typeof original !== 'function') continue;
    const call = (...args: unknown[]): Promise<unknown> => Reflect.apply(original, target, args);
    Object.defineProperty(wrapped, name, { value: gated(watch, call), enumerable: true });
  }
  return wrapped;
}
