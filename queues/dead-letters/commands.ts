import { FAILURE_REASONS } from '../core/index.js';
import { STALLED_OUT } from '../delivery/index.js';
import type { Keys } from '../redis/index.js';

/** The failure reasons as the Lua commands take them. */
export const REASONS_ARG = FAILURE_REASONS.join(',');
/** The failedReason BullMQ writes for an over-stalled job; the index files it under TIMEOUT. */
const STALLED_ARG = STALLED_OUT;

/**
 * The index sets one queue's dead letters are filed in, in the order the dead-letter commands take them
 * after their own keys: the topic's set, the queue's, the topic's per reason and the queue's per reason
 * (reasons in REASONS_ARG's order). The Lua builds no key of its own.
 */
function indexSets(keys: Keys, topic: string, queue: string): string[] {
  const sets = keys.deadLetters(topic);
  return [
    sets.base,
    sets.queue(queue),
    ...FAILURE_REASONS.map((reason) => sets.reason(reason)),
    ...FAILURE_REASONS.map((reason) => sets.queueReason(queue, reason)),
  ];
}

/** KEYS and ARGV of one dead-letter-index-n call: index these jobs of one queue, if still dead letters. */
export function indexCall(
  keys: Keys,
  topic: string,
  queue: string,
  jobIds: readonly string[],
): { keys: string[]; args: string[] } {
  const bull = keys.bull(topic, queue);
  return {
    keys: [bull.failed, ...indexSets(keys, topic, queue), ...jobIds.map((jobId) => bull.job(jobId))],
    args: [queue, REASONS_ARG, STALLED_ARG, ...jobIds],
  };
}

/**
 * KEYS and ARGV of one dead-letter-discard-n call: remove these jobs of one queue, each only while a
 * dead letter that failed no later than `latest` (ms, or '+inf').
 */
export function discardCall(
  keys: Keys,
  topic: string,
  queue: string,
  jobIds: readonly string[],
  latest = '+inf',
): { keys: string[]; args: string[] } {
  const bull = keys.bull(topic, queue);
  return {
    keys: [
      bull.failed,
      bull.events,
      ...indexSets(keys, topic, queue),
      ...jobIds.flatMap((id) => bull.jobKeys(id)),
    ],
    args: [queue, REASONS_ARG, STALLED_ARG, latest, ...jobIds],
  };
}

/** One dead letter as dead-letter-release-n takes it. */
export interface ReleaseItem {
  jobId: string;
  /** New job data, or '' to keep it. */
  data: string;
  /** The reason it is indexed under, or null when unknown (dropped from every reason's sets). */
  reason: string | null;
}

/** KEYS and ARGV of one dead-letter-release-n call: ready these dead letters of one queue for replay. */
export function releaseCall(
  keys: Keys,
  topic: string,
  queue: string,
  items: readonly ReleaseItem[],
  at: Date,
): { keys: string[]; args: string[] } {
  const bull = keys.bull(topic, queue);
  return {
    keys: [
      bull.failed,
      ...indexSets(keys, topic, queue),
      ...items.flatMap(({ jobId }) => [bull.job(jobId), bull.logs(jobId)]),
    ],
    args: [
      queue,
      REASONS_ARG,
      at.toISOString(),
      ...items.flatMap((item) => [item.jobId, item.data, item.reason ?? '']),
    ],
  };
}
