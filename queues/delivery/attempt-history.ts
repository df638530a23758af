import type { Job } from 'bullmq';
import { type AttemptRecord, FAILURE_REASONS, type FailureReason } from '../core/index.js';

/**
 * Every failed attempt is appended to the job's own BullMQ log, so the history lives and dies with
 * the job (bull-board shows it too) and costs one RPUSH on the failure path only.
 */
export async function recordAttempt(job: Job, record: AttemptRecord): Promise<void> {
  await job.log(JSON.stringify(record));
}

export function parseAttemptLog(lines: string[]): AttemptRecord[] {
  const records: AttemptRecord[] = [];
  for (const line of lines) {
    try {
      const record = JSON.parse(line) as AttemptRecord;
      if (typeof record.attempt === 'number') records.push(record);
    } catch {
      // Someone else's log line (jobs are open to any BullMQ tool); not an attempt record.
    }
  }
  return records;
}

/** The log line a replay leaves (queues/redis/commands/dead-letter-release-n.lua writes it). */
export interface ReplayMarker {
  replay: number;
  at: string;
}

/** How many attempt records follow the last replay marker: the attempts of the current round. */
export function attemptsSinceReplay(lines: string[]): number {
  let count = 0;
  for (const line of lines) {
    try {
      const record = JSON.parse(line) as Partial<AttemptRecord & ReplayMarker>;
      if (typeof record.replay === 'number') count = 0;
      else if (typeof record.attempt === 'number') count++;
    } catch {
      // Not ours.
    }
  }
  return count;
}

/** BullMQ's own words for a job whose lock ran out more often than maxStalledCount allows. */
export const STALLED_OUT = 'job stalled more than allowable limit';

/** Reads the reason back from a failedReason we wrote ("TIMEOUT: …"), or UNKNOWN for anything else. */
export function reasonOf(failedReason: string | undefined): FailureReason {
  // A delivery whose visibility timeout ran out every time: nobody acknowledged it in time.
  if (failedReason === STALLED_OUT) return 'TIMEOUT';
  const prefix = failedReason?.slice(0, failedReason.indexOf(':')) ?? '';
  return (FAILURE_REASONS as readonly string[]).includes(prefix) ? (prefix as FailureReason) : 'UNKNOWN';
}
