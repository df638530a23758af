import { FAILURE_REASONS } from '../core/index.js';
import { STALLED_OUT } from '../delivery/index.js';
import type { Keys } from '../redis/index.js';

/** The failure reasons as the Lua commands take them. */
export const REASONS_ARG = FAILURE_REASONS.join(',');
/** The failedReason BullMQ writes for an over-stalled job; the index files it under TIMEOUT. */
export const STALLED_ARG = STALLED_OUT;

/**
 * The index sets one queue's dead letters are filed in, in the order the dead-letter commands take them
 * after their own keys: the topic's set, the queue's, the topic's per reason and the queue's per reason
 * (reasons in REASONS_ARG's order). The Lua builds no key of its own.
 */
export function indexSets(keys: Keys, topic: string, queue: string): string[] {
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
