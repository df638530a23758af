import type { QueueRecord } from '../core/index.js';

/**
 * How a WEBHOOK queue with a concurrency range moves its workers on one instance
 * (docs/DELIVERY.md#concurrency-and-autoscaling). The band between "pressed" and "calm" is the hysteresis: a queue
 * that keeps up with fewer messages waiting than workers, or with half its workers busy, holds still.
 */
export interface AutoscaleSettings {
  /** How often each scaled queue's backlog and lag are read. @default 1000 */
  sampleMs: number;
  /**
   * A lag at or above this presses for more workers even when fewer messages wait than workers run
   * (a few slow messages at the head of a queue). @default 1000
   */
  lagHighMs: number;
  /** Pressed samples in a row before the concurrency doubles (up to the maximum). @default 2 */
  upAfter: number;
  /** Calm samples in a row before the concurrency halves (down to the minimum). @default 5 */
  downAfter: number;
}

export const AUTOSCALE_DEFAULTS: AutoscaleSettings = {
  sampleMs: 1_000,
  lagHighMs: 1_000,
  upAfter: 2,
  downAfter: 5,
};

/** What one sample reads of a queue: its backlog (deliverable now) and lag (the oldest one's wait). */
export interface BacklogSample {
  waiting: number;
  lagMs: number | null;
}

export interface ScaleState {
  current: number;
  /** Pressed samples in a row. */
  pressed: number;
  /** Calm samples in a row. */
  calm: number;
}

export interface ConcurrencyRange {
  min: number;
  max: number;
}

/** A queue's range, or null for a queue of fixed concurrency. */
export const concurrencyRange = (queue: QueueRecord): ConcurrencyRange | null =>
  queue.minConcurrency !== undefined && queue.maxConcurrency !== undefined
    ? { min: queue.minConcurrency, max: queue.maxConcurrency }
    : null;

const clamp = (value: number, range: ConcurrencyRange) => Math.min(range.max, Math.max(range.min, value));

/**
 * One sample's step, pure: more messages waiting than workers (or a lag past `lagHighMs`) presses,
 * none waiting with at most half the workers busy is calm; `upAfter` pressed samples in a row double
 * the concurrency, `downAfter` calm ones halve it, and a change starts both streaks over, so each step
 * is judged on what the last one did. Halving never drops below what is busy, since calm means at most
 * half is.
 */
export function nextScale(
  state: ScaleState,
  range: ConcurrencyRange,
  sample: BacklogSample & { busy: number },
  settings: AutoscaleSettings,
): ScaleState {
  const current = clamp(state.current, range);
  const pressed = sample.waiting > current || (sample.lagMs ?? 0) >= settings.lagHighMs;
  const calm = sample.waiting === 0 && sample.busy * 2 <= current;
  if (pressed && state.pressed + 1 >= settings.upAfter && current < range.max)
    return { current: clamp(current * 2, range), pressed: 0, calm: 0 };
  if (calm && state.calm + 1 >= settings.downAfter && current > range.min)
    return { current: clamp(Math.ceil(current / 2), range), pressed: 0, calm: 0 };
  return { current, pressed: pressed ? state.pressed + 1 : 0, calm: calm ? state.calm + 1 : 0 };
}

/** What the scaler moves: a worker whose concurrency can be set while it runs (BullMQ's can). */
export interface ScaledWorker {
  concurrency: number;
  /** Deliveries this worker runs now. */
  readonly busy: number;
}

interface Scaled {
  queue: QueueRecord;
  range: ConcurrencyRange;
  worker: ScaledWorker;
  state: ScaleState;
}

export interface AutoscalerOptions {
  /** Reads a queue's backlog and lag from Redis (the engine passes queues/stats' queueBacklog). */
  measure: (queue: QueueRecord) => Promise<BacklogSample>;
  settings?: Partial<AutoscaleSettings>;
  onError?: (error: Error) => void;
}

/**
 * This instance's scaler: one timer samples every followed queue in turn and sets its worker's
 * concurrency. Instances do not coordinate; each scales its own workers by the same shared backlog,
 * so under load every instance climbs to the maximum (docs/SCALING.md).
 */
export class Autoscaler {
  private readonly scaled = new Map<string, Scaled>();
  private readonly settings: AutoscaleSettings;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: AutoscalerOptions) {
    this.settings = { ...AUTOSCALE_DEFAULTS, ...options.settings };
  }

  /**
   * Scales `worker` within the queue's range, or, for a queue of fixed concurrency, sets it to that
   * and stops scaling it. Called on every registry change: a followed queue keeps where it stands,
   * pulled into a changed range.
   */
  follow(id: string, queue: QueueRecord, worker: ScaledWorker): void {
    const range = concurrencyRange(queue);
    const known = this.scaled.get(id);
    if (!range) {
      this.scaled.delete(id);
      setConcurrency(worker, queue.concurrency);
      return;
    }
    const state =
      known && known.worker === worker ? known.state : { current: queue.concurrency, pressed: 0, calm: 0 };
    state.current = clamp(state.current, range);
    this.scaled.set(id, { queue, range, worker, state });
    setConcurrency(worker, state.current);
    this.schedule();
  }

  forget(id: string): void {
    this.scaled.delete(id);
  }

  /** Where the queue's worker stands on this instance; null when this instance runs none. */
  concurrencyOf(id: string): number | null {
    return this.scaled.get(id)?.state.current ?? null;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => void this.tick(), this.settings.sampleMs);
    // A scaler alone keeps no process alive.
    this.timer.unref();
  }

  /** One round over every followed queue; the next starts a full interval after this one ends. */
  private async tick(): Promise<void> {
    await Promise.all([...this.scaled].map(([id, scaled]) => this.sample(id, scaled)));
    this.timer = null;
    if (this.scaled.size > 0) this.schedule();
  }

  private async sample(id: string, scaled: Scaled): Promise<void> {
    // A paused queue's backlog says nothing about what its endpoint can take.
    if (scaled.queue.paused) return;
    let backlog: BacklogSample;
    try {
      backlog = await this.options.measure(scaled.queue);
    } catch (error) {
      this.options.onError?.(error as Error);
      return;
    }
    // Forgotten or replaced while Redis answered: the new entry is judged from its own samples.
    if (this.scaled.get(id) !== scaled) return;
    scaled.state = nextScale(
      scaled.state,
      scaled.range,
      { ...backlog, busy: scaled.worker.busy },
      this.settings,
    );
    setConcurrency(scaled.worker, scaled.state.current);
  }
}

function setConcurrency(worker: ScaledWorker, concurrency: number): void {
  if (worker.concurrency !== concurrency) worker.concurrency = concurrency;
}
