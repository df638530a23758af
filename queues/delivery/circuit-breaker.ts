/**
 * A circuit breaker per webhook queue, shared by every gateway instance through Redis.
 *
 * Closed, deliveries go out. `failures` deliveries in a row that fail for the endpoint's sake
 * (TIMEOUT, DEPENDENCY, PROCESSING: not a REJECTED message) open it: BullMQ's rate-limit key of the
 * queue is set for the cool-down, so no worker anywhere takes a job of the queue, and no job spends
 * an attempt on an endpoint known to be down. Once cooled down, the next delivery is the one probe
 * (half-open) while the others wait: a success closes the circuit and deliveries resume at once; a
 * failure opens it again for twice as long, up to `maxCooldownMs`. The scripts are in
 * queues/commands/circuit-*.lua; the clock is Redis's, so instances with skewed clocks agree.
 */

import type { FailureReason } from '../core/index.js';
import type { Commands, Keys } from '../redis/index.js';

export interface CircuitOptions {
  /**
   * Endpoint failures in a row that open a queue's circuit; 0 turns circuit breaking off.
   * @default 10
   */
  failures?: number;
  /**
   * How long an opened circuit holds deliveries back before it probes, in ms.
   * @default 30000
   */
  cooldownMs?: number;
  /**
   * The longest cool-down, reached by doubling after each failed probe, in ms.
   * @default 600000 (10 minutes)
   */
  maxCooldownMs?: number;
}

export const CIRCUIT_DEFAULTS = { failures: 10, cooldownMs: 30_000, maxCooldownMs: 600_000 } as const;

/** Failure reasons that say the endpoint, not the message, is at fault. */
const ENDPOINT_FAILURES: ReadonlySet<FailureReason> = new Set(['TIMEOUT', 'DEPENDENCY', 'PROCESSING']);

export type CircuitStateName = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

export interface CircuitState {
  state: CircuitStateName;
  /** Endpoint failures in a row so far. */
  consecutiveFailures: number;
  /** When an open circuit lets its probe through (ISO); null unless OPEN. */
  openUntil: string | null;
}

/** Where a queue's circuit is, and the BullMQ rate-limit key that holds its workers back. */
export interface CircuitTarget {
  topic: string;
  name: string;
  /** The queue's BullMQ `limiter` key (a worker's `keys.limiter`). */
  limiterKey: string;
}

/** What the gate says about one delivery. */
export type GateVerdict =
  | { kind: 'deliver' }
  | { kind: 'probe' }
  /** Not now: BullMQ's rate-limit key already holds the queue back until `until` (epoch ms). */
  | { kind: 'wait'; until: number };

export interface FailureVerdict {
  /** This failure opened the circuit (or reopened it after a failed probe). */
  opened: boolean;
  /** When the circuit lets a probe through, epoch ms; 0 while closed. */
  until: number;
  failures: number;
}

/** How long a probe may run before another delivery may probe instead, beyond the request's timeout. */
const PROBE_GRACE_MS = 5_000;
/** While a probe is under way, the others ask again this often. */
const PROBE_POLL_MS = 1_000;

type Answer = [string, number, number, ...number[]];

function parseAnswer(answer: unknown, script: string): Answer {
  if (!Array.isArray(answer) || typeof answer[0] !== 'string') {
    throw new Error(`${script} answered ${JSON.stringify(answer)}`);
  }
  return [answer[0], Number(answer[1]), Number(answer[2]), ...answer.slice(3).map(Number)];
}

/** What the breaker reads and deletes directly (its state for a dashboard; a deleted queue's circuit). */
interface HgetallClient {
  hgetall(key: string): Promise<Record<string, string>>;
  del(key: string): Promise<number>;
}

interface Cached {
  /** When this instance last learned the circuit's state from Redis. */
  at: number;
  closed: boolean;
  failures: number;
}

/**
 * Each WEBHOOK queue's circuit breaker, its state in Redis so that every instance shares it
 * (docs/DELIVERY.md#circuit-breaker).
 */
export class CircuitBreaker {
  readonly enabled: boolean;
  private readonly failures: number;
  private readonly cooldownMs: number;
  private readonly maxCooldownMs: number;
  /** A circuit another instance opened must look stale here before its cool-down ends. */
  private readonly freshForMs: number;
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly deps: { commands: Commands; keys: Keys; client: HgetallClient },
    options: CircuitOptions = {},
  ) {
    this.failures = options.failures ?? CIRCUIT_DEFAULTS.failures;
    this.cooldownMs = options.cooldownMs ?? CIRCUIT_DEFAULTS.cooldownMs;
    this.maxCooldownMs = Math.max(this.cooldownMs, options.maxCooldownMs ?? CIRCUIT_DEFAULTS.maxCooldownMs);
    this.enabled = this.failures > 0;
    this.freshForMs = Math.min(1_000, Math.floor(this.cooldownMs / 2));
  }

  /**
   * Before a delivery: may it go out? Answered from this instance's memory while the circuit was
   * closed a moment ago (no round trip per delivery), else by Redis.
   */
  async gate(target: CircuitTarget, requestTimeoutMs: number): Promise<GateVerdict> {
    if (!this.enabled) return { kind: 'deliver' };
    const known = this.cache.get(this.id(target));
    if (known?.closed && Date.now() - known.at < this.freshForMs) return { kind: 'deliver' };
    const [verdict, until, count] = parseAnswer(
      await this.deps.commands.run<number>('circuit-gate-2', this.keysOf(target), [
        String(requestTimeoutMs + PROBE_GRACE_MS),
        String(PROBE_POLL_MS),
      ]),
      'circuit-gate',
    );
    this.remember(target, verdict === 'deliver', count);
    if (verdict === 'deliver') return { kind: 'deliver' };
    if (verdict === 'probe') return { kind: 'probe' };
    return { kind: 'wait', until };
  }

  /** After a failed delivery. Failures that are the message's fault leave the circuit alone. */
  async failed(target: CircuitTarget, reason: FailureReason): Promise<FailureVerdict> {
    if (!this.enabled || !ENDPOINT_FAILURES.has(reason)) return { opened: false, until: 0, failures: 0 };
    const [state, until, count, opened] = parseAnswer(
      await this.deps.commands.run<number>('circuit-failure-2', this.keysOf(target), [
        String(this.failures),
        String(this.cooldownMs),
        String(this.maxCooldownMs),
      ]),
      'circuit-failure',
    );
    this.remember(target, state === 'closed', count);
    return { opened: opened === 1, until, failures: count };
  }

  /**
   * After a successful delivery: closes the circuit and resets the count, with a round trip only
   * when this instance knows of failures (or of an open circuit) to forget.
   */
  async succeeded(target: CircuitTarget, probe: boolean): Promise<void> {
    if (!this.enabled) return;
    const known = this.cache.get(this.id(target));
    if (!probe && known?.closed && known.failures === 0) return;
    await this.deps.commands.run<number>('circuit-success-2', this.keysOf(target), []);
    this.remember(target, true, 0);
  }

  /** The circuit as a dashboard shows it. */
  async state(topic: string, name: string): Promise<CircuitState> {
    const stored = await this.deps.client.hgetall(this.deps.keys.circuit(topic, name));
    const consecutiveFailures = Number(stored.failures ?? 0);
    if (stored.state === 'open') {
      const until = Number(stored.until ?? 0);
      return { state: 'OPEN', consecutiveFailures, openUntil: new Date(until).toISOString() };
    }
    if (stored.state === 'half-open') return { state: 'HALF_OPEN', consecutiveFailures, openUntil: null };
    return { state: 'CLOSED', consecutiveFailures, openUntil: null };
  }

  /**
   * An operator closes the circuit: the failures are forgotten and every instance's workers take
   * the queue's jobs again within a second. Answers whether it was OPEN.
   */
  async reset(target: CircuitTarget): Promise<boolean> {
    this.cache.delete(this.id(target));
    return (await this.deps.commands.run<number>('circuit-reset-2', this.keysOf(target), ['close'])) === 1;
  }

  /**
   * Messages were just replayed into the queue: an OPEN circuit sends the next delivery as its
   * probe now instead of after the cool-down. Answers whether it was OPEN.
   */
  async probeNow(target: CircuitTarget): Promise<boolean> {
    if (!this.enabled) return false;
    this.cache.delete(this.id(target));
    return (await this.deps.commands.run<number>('circuit-reset-2', this.keysOf(target), ['probe'])) === 1;
  }

  /** Forgets a deleted queue's circuit. */
  async drop(topic: string, name: string): Promise<void> {
    this.cache.delete(`${topic}/${name}`);
    await this.deps.client.del(this.deps.keys.circuit(topic, name));
  }

  private id(target: Pick<CircuitTarget, 'topic' | 'name'>): string {
    return `${target.topic}/${target.name}`;
  }

  private keysOf(target: CircuitTarget): string[] {
    return [this.deps.keys.circuit(target.topic, target.name), target.limiterKey];
  }

  private remember(target: CircuitTarget, closed: boolean, count: number): void {
    this.cache.set(this.id(target), { at: Date.now(), closed, failures: count });
  }
}

export const createCircuitBreaker = (
  deps: { commands: Commands; keys: Keys; client: HgetallClient },
  options: CircuitOptions = {},
) => new CircuitBreaker(deps, options);
