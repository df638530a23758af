/** What a scenario is to the harness: named figures, and a run of one side that measures them. */
import type { Bench } from './harness.js';

export type Side = 'switchyard' | 'raw';

/** A goal from the issue, checked on one figure. */
export type Target =
  /** Switchyard's median divided by raw's is at least this (throughput). */
  | { kind: 'ratio-at-least'; value: number }
  /** Switchyard's median divided by raw's is at most this (latency, memory). */
  | { kind: 'ratio-at-most'; value: number }
  /** Switchyard's median itself is below this, in the figure's unit. */
  | { kind: 'switchyard-below'; value: number };

export interface Figure {
  key: string;
  label: string;
  unit: string;
  /** Decimals shown in the table. */
  digits: number;
  targets?: Target[];
}

export interface RunInfo {
  /** 0 for the warm-up, then 1, 2, 3. */
  round: number;
  /** Unique per run, usable in topic and queue names: [a-z0-9-]. */
  tag: string;
}

export interface OpenScenario {
  /** Does the work once for one side and answers every figure of the scenario. */
  run(side: Side, info: RunInfo): Promise<Record<string, number>>;
  /** Stops the processes the scenario started. */
  close(): Promise<void>;
}

export interface Scenario {
  id: number;
  title: string;
  /** One line on what is compared, for the table's notes and the docs. */
  summary: string;
  figures: Figure[];
  open(bench: Bench): Promise<OpenScenario>;
}

/** Throws when any operation of a load loop failed: a failing run must never look like a result. */
export function assertNoErrors(what: string, result: { errors: number; firstError: string | null }): void {
  if (result.errors > 0) {
    throw new Error(
      `${what}: ${result.errors} operations failed${result.firstError ? `, first: ${result.firstError}` : ''}`,
    );
  }
}

/** Throws when a load loop did not do all it was asked (filling a queue, draining it). */
export function assertComplete(
  what: string,
  result: { cutShort: boolean; errors?: number; firstError?: string | null },
): void {
  if (result.cutShort || (result.errors ?? 0) > 0) {
    throw new Error(
      `${what} did not complete (${result.errors ?? 0} errors${result.firstError ? `, first: ${result.firstError}` : ''})`,
    );
  }
}
