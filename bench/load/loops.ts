/** The two shapes of load: closed (N operations, C in flight) and open (a fixed rate, whatever answers). */
import { setTimeout as sleep } from 'node:timers/promises';
import { nowUs } from '../payload.js';

export interface LoopResult {
  /** Operations that succeeded. */
  done: number;
  errors: number;
  firstError: string | null;
  elapsedMs: number;
  /** The loop stopped at its deadline or after too many errors, before doing all it was asked. */
  cutShort: boolean;
}

/** A loop gives up after this many failed operations: a broken target should not be hammered for minutes. */
const MAX_ERRORS = 100;

export interface ClosedLoopOptions {
  /** At most this many operations. */
  count: number;
  concurrency: number;
  /** At most this long: no operation starts after it (a throughput window, or a safety bound). */
  timeoutMs: number;
  op: (index: number) => Promise<unknown>;
}

/** Runs up to `count` operations with `concurrency` in flight, for up to `timeoutMs`; stops on many errors. */
export async function closedLoop(options: ClosedLoopOptions): Promise<LoopResult> {
  const started = performance.now();
  const deadline = started + options.timeoutMs;
  let next = 0;
  let done = 0;
  let errors = 0;
  let firstError: string | null = null;
  const lane = async () => {
    while (next < options.count && errors < MAX_ERRORS && performance.now() < deadline) {
      const index = next++;
      try {
        await options.op(index);
        done++;
      } catch (error) {
        errors++;
        firstError ??= describe(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.count) }, lane));
  return {
    done,
    errors,
    firstError,
    elapsedMs: performance.now() - started,
    cutShort: done + errors < options.count || errors >= MAX_ERRORS,
  };
}

export interface OpenLoopOptions {
  ratePerSecond: number;
  durationMs: number;
  /** Above this many unanswered operations a due one is skipped (and counted) rather than queued. */
  maxInFlight: number;
  /** How long to wait for the last answers after the schedule ends. */
  drainTimeoutMs: number;
  /** `intendedUs` is when the operation was due, so a stalled sender still shows in the latency. */
  op: (index: number, intendedUs: number) => Promise<unknown>;
}

export interface OpenLoopResult extends LoopResult {
  /** Operations due but skipped because too many were in flight. */
  skipped: number;
}

/**
 * Sends on a fixed schedule whatever the target does (open loop), so slow answers cannot slow the
 * offered load down and hide the queueing they cause (coordinated omission).
 */
export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const total = Math.round((options.ratePerSecond * options.durationMs) / 1000);
  const intervalUs = 1e6 / options.ratePerSecond;
  const startUs = nowUs();
  const started = performance.now();
  let next = 0;
  let inFlight = 0;
  let done = 0;
  let errors = 0;
  let skipped = 0;
  let firstError: string | null = null;
  // Bounded by count (total) and, through the schedule, by time: `due` reaches total at durationMs.
  while (next < total && errors < MAX_ERRORS) {
    const due = Math.min(total, Math.floor((nowUs() - startUs) / intervalUs) + 1);
    for (; next < due; next++) {
      if (inFlight >= options.maxInFlight) {
        skipped++;
        continue;
      }
      inFlight++;
      options.op(next, Math.round(startUs + next * intervalUs)).then(
        () => {
          inFlight--;
          done++;
        },
        (error: unknown) => {
          inFlight--;
          errors++;
          firstError ??= describe(error);
        },
      );
    }
    await sleep(1);
  }
  const drainDeadline = performance.now() + options.drainTimeoutMs;
  while (inFlight > 0 && performance.now() < drainDeadline) await sleep(5);
  return {
    done,
    errors,
    skipped,
    firstError,
    elapsedMs: performance.now() - started,
    cutShort: inFlight > 0 || errors >= MAX_ERRORS || next < total,
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
