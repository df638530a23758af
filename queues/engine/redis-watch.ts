import { ErrorCode, SwitchyardError } from '../core/index.js';
import type { RedisClient } from '../redis/index.js';

/** Whether the engine's Redis answers right now, as its watchdog last saw it. */
export interface RedisWatch {
  /** False from the moment a PING went unanswered too long or the connection dropped, until one answers. */
  readonly available: boolean;
  /** How long a PING may go unanswered right now before Redis counts as not answering (see {@link watchRedis}). */
  readonly limitMs: number;
  /** True until `warmUpMs` after the first PING answered: the limit is the upper one meanwhile. */
  readonly warmingUp: boolean;
  /**
   * Told of each change, with the new state and, for an outage, how it was seen: `silent` (a PING
   * unanswered: frozen, or a partition) or `closed` (the connection dropped, or refused the PING).
   * Answers the function that stops telling.
   */
  onChange(listener: (available: boolean, how: 'silent' | 'closed' | null) => void): () => void;
  /**
   * Says that a command this process sent may keep a quiet Redis busy for up to `ms` (a publish's
   * share of a group commit): the limit grows by `ms` until the answered function is called, and to
   * `busyLimitMs` while the announced total is big, so our own long script is not taken for a frozen Redis.
   */
  expectBusy(ms: number): () => void;
  /** Stops the PINGs. Idempotent. */
  close(): void;
}

export interface RedisWatchOptions {
  /** How often a PING is sent (never more than one in flight). */
  pingIntervalMs: number;
  /** The least time a PING may go unanswered before Redis counts as not answering. */
  unresponsiveAfterMs: number;
  /** The most: however slow Redis was lately, a PING unanswered this long is an outage. */
  maxUnresponsiveAfterMs: number;
  /** The limit while a big command of our own is under way (see `expectBusy`): the command timeout. */
  busyLimitMs: number;
  /**
   * For this long after the first PING answered, the limit is `maxUnresponsiveAfterMs`: a new watch
   * has not yet seen how slow this Redis on this machine may be while well (TCP starts its
   * retransmission timeout at a second for the same reason, RFC 6298). 0 trusts the floor at once.
   */
  warmUpMs: number;
  onError?: (error: Error) => void;
}

/** Announced costs from this much on are a big command (see `limit`). */
const BIG_COMMAND_MS = 100;
/** The limit is this many times the slowest PING answer of the last minute, within its bounds. */
const SLOWEST_FACTOR = 4;
/** The slowest answers are kept per 10 s slot, six slots: what was slow a minute ago is forgotten. */
const SLOT_MS = 10_000;
const SLOTS = 6;

/**
 * The slowest PING round trips of the last minute, per 10 s slot: what the watchdog learns of how
 * long this Redis, with this load, may take to answer while it is well.
 */
function slowestAnswers(now: () => number) {
  const slots: Array<{ at: number; ms: number }> = [];
  return {
    record(ms: number) {
      const at = Math.floor(now() / SLOT_MS);
      const last = slots[slots.length - 1];
      if (last?.at === at) last.ms = Math.max(last.ms, ms);
      else slots.push({ at, ms });
      while (slots.length > 0 && (slots[0]?.at ?? at) <= at - SLOTS) slots.shift();
    },
    get slowestMs() {
      const oldest = Math.floor(now() / SLOT_MS) - SLOTS;
      return slots.reduce((slowest, slot) => (slot.at > oldest ? Math.max(slowest, slot.ms) : slowest), 0);
    },
  };
}

/**
 * The engine's watchdog on its request client: a PING every `pingIntervalMs`, at most one in flight.
 * A PING refused (no connection: the client has no offline queue) or unanswered for the current
 * limit marks Redis unavailable at once; the next PING answered marks it available. A stopped Redis is
 * seen by the connection closing, a frozen one (SIGSTOP, a partition that drops packets, a disk stall
 * under `appendfsync always`) only by the PING's silence: within the limit plus `pingIntervalMs`.
 *
 * Silence alone cannot tell a frozen Redis from one busy with a long script, so the limit learns: it is
 * four times the slowest PING answer (or the latest this process's own PING timer fired: a machine
 * starved of CPU starves a Redis on it too) of the last minute, at least `unresponsiveAfterMs` (fast on a
 * quiet Redis) and at most `maxUnresponsiveAfterMs`, plus what this process announced with
 * `expectBusy` for its own commands (and, while a big one is under way, `busyLimitMs`). A script from
 * another client longer than the limit is taken for an outage once (calls under way answer
 * UNAVAILABLE, safe to retry), and learned from then on.
 */
export function watchRedis(client: RedisClient, options: RedisWatchOptions): RedisWatch {
  const listeners = new Set<(available: boolean, how: 'silent' | 'closed' | null) => void>();
  const slowest = slowestAnswers(() => Date.now());
  const busy = new Set<{ ms: number }>();
  let available = true;
  let inFlight: { sentAt: number } | null = null;
  let closed = false;

  let firstAnswerAt: number | null = null;
  const warm = () => firstAnswerAt !== null && performance.now() - firstAnswerAt >= options.warmUpMs;
  const limit = () => {
    const learned = warm()
      ? Math.min(
          options.maxUnresponsiveAfterMs,
          Math.max(options.unresponsiveAfterMs, SLOWEST_FACTOR * slowest.slowestMs),
        )
      : options.maxUnresponsiveAfterMs;
    let announced = 0;
    for (const lease of busy) announced += lease.ms;
    // A big command of our own (a publishBatch of more than a few dozen messages) may hold a loaded
    // Redis far longer than its quiet cost says: a CPU-bound script gets a share of a busy core
    // that a PING's quick answer does not show. While one is under way, only `busyLimitMs` (the
    // command timeout, which ends the command anyway) counts as an outage.
    if (announced >= BIG_COMMAND_MS) return Math.max(learned + announced, options.busyLimitMs);
    return learned + announced;
  };

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

  // Checked after the event loop's I/O phase (setImmediate): when this process itself was stalled
  // past the limit, an answer already waiting in the socket is read first, and is no outage.
  const checkSilence = () =>
    setImmediate(() => {
      if (closed || !inFlight) return;
      const left = limit() - (performance.now() - inFlight.sentAt);
      if (left <= 0) set(false, 'silent');
      else overdue = setTimeout(checkSilence, left);
    });
  let overdue: NodeJS.Timeout | undefined;

  const ping = () => {
    if (closed || inFlight) return;
    const sent = { sentAt: performance.now() };
    inFlight = sent;
    overdue = setTimeout(checkSilence, limit());
    client
      .ping()
      .then(
        () => {
          firstAnswerAt ??= performance.now();
          slowest.record(performance.now() - sent.sentAt);
          set(true);
        },
        () => set(false, 'closed'),
      )
      .finally(() => {
        clearTimeout(overdue);
        inFlight = null;
      });
  };

  // How late this process's own timer fires is how starved of CPU the machine is; a Redis on it is
  // starved alike, and may answer that much later while well, before any PING has shown it.
  let lastTick = performance.now();
  const tick = () => {
    const now = performance.now();
    slowest.record(Math.max(0, now - lastTick - options.pingIntervalMs));
    lastTick = now;
    ping();
  };
  const timer = setInterval(tick, options.pingIntervalMs);
  timer.unref();
  const onClose = () => set(false, 'closed');
  // A connection that dropped is known at once; one that is back is checked at once.
  client.on('close', onClose);
  client.on('ready', ping);

  return {
    get available() {
      return available;
    },
    get limitMs() {
      return limit();
    },
    get warmingUp() {
      return !warm();
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    expectBusy(ms) {
      const lease = { ms };
      busy.add(lease);
      return () => busy.delete(lease);
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      clearTimeout(overdue);
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
  watch: Pick<RedisWatch, 'available' | 'onChange' | 'expectBusy'>,
  fn: (...args: A) => Promise<R>,
  inFlight: () => SwitchyardError = redisStoppedAnswering,
  busyMs?: (...args: A) => number,
): (...args: A) => Promise<R> {
  return (...args) => {
    if (!watch.available) return Promise.reject(redisNotAnswering());
    const done = busyMs ? watch.expectBusy(busyMs(...args)) : undefined;
    // A call under way when Redis froze would wait for the command timeout: it answers now, with
    // `inFlight`'s error (whatever it sent may or may not have been run). A dropped connection fails
    // the call's own commands at once, and is left to them (a publish then asks whether it was stored).
    return new Promise<R>((resolve, reject) => {
      const unwatch = watch.onChange((available, how) => {
        if (available || how !== 'silent') return;
        stop();
        reject(inFlight());
      });
      const stop = () => {
        unwatch();
        done?.();
      };
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
  watch: Pick<RedisWatch, 'available' | 'onChange' | 'expectBusy'>,
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
