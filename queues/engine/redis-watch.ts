import type { RedisClient } from '../redis/index.js';

/** Whether the engine's Redis answers right now, as its watchdog last saw it. */
export interface RedisWatch {
  /** False from the moment a PING went unanswered too long or the connection dropped, until one answers. */
  readonly available: boolean;
  /** Told of each change, with the new state; answers the function that stops telling. */
  onChange(listener: (available: boolean) => void): () => void;
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
  const listeners = new Set<(available: boolean) => void>();
  let available = true;
  let inFlight = false;
  let closed = false;

  const set = (next: boolean) => {
    if (closed || next === available) return;
    available = next;
    for (const listener of [...listeners]) {
      try {
        listener(next);
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
          if (inFlight) set(false);
        }),
      options.unresponsiveAfterMs,
    );
    client
      .ping()
      .then(
        () => set(true),
        () => set(false),
      )
      .finally(() => {
        clearTimeout(overdue);
        inFlight = false;
      });
  };

  const timer = setInterval(ping, options.pingIntervalMs);
  timer.unref();
  const onClose = () => set(false);
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
