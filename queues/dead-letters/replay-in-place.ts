import type { ChainableCommander } from 'ioredis';
import type { FailureReason } from '../core/index.js';
import type { Keys, QueueHandles } from '../redis/index.js';
import { answers, queueCommand } from '../redis/index.js';
import { indexSets, REASONS_ARG } from './commands.js';

/** One dead letter of a replay, as the release command takes it. */
export interface ReplayItem {
  jobId: string;
  /** New job data, or '' to keep it. */
  data: string;
  messageId: string;
  reason: FailureReason | null;
}

/** Replays jobs of one queue where they are. Answers the job ids replayed. */
export async function replayInPlace(
  handles: QueueHandles,
  keys: Keys,
  topic: string,
  queue: string,
  items: readonly ReplayItem[],
): Promise<Set<string>> {
  const bull = handles.get(topic, queue);
  const keysOf = keys.bull(topic, queue);
  const transaction = (await bull.client).multi();
  const perJob = items.flatMap((item) => [item.jobId, item.data, item.reason ?? '']);
  queueCommand(
    transaction as unknown as ChainableCommander,
    'dead-letter-release-n',
    [keysOf.failed, ...indexSets(keys, topic, queue)],
    [keysOf.jobPrefix, '', queue, REASONS_ARG, new Date().toISOString(), ...perJob],
  );
  for (const { jobId } of items) {
    bull.scripts.execCommand(transaction, 'reprocessJob', [
      keysOf.job(jobId),
      keysOf.events,
      keysOf.failed,
      keysOf.wait,
      keysOf.meta,
      keysOf.paused,
      keysOf.active,
      keysOf.marker,
      jobId,
      'LPUSH',
      'failedReason',
      'failed',
      '1',
      '1',
    ]);
  }
  const [released, ...reprocessed] = answers(await transaction.exec()) as [number[], ...number[]];
  const replayed = new Set<string>();
  items.forEach((item, index) => {
    const count = Number(released[index]);
    const moved = Number(reprocessed[index]);
    if (count > 0 && moved !== 1) {
      throw new Error(`replay of ${item.jobId}: released but reprocessJob answered ${moved}`);
    }
    if (count > 0) replayed.add(item.jobId);
  });
  return replayed;
}
