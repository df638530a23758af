import type { EventBus } from '../core/index.js';
import type { Keys, QueueHandles, RedisClient } from '../redis/index.js';
import { defineCommands } from '../redis/index.js';
import { discardCall } from './commands.js';
import { type DeadLetterRef, deadLetterGone, parseDeadLetterId } from './ids.js';
import type { DeadLetterFilter, DeadLetterQuery, SelectedRef } from './query.js';

/** Jobs per Lua call and per selection round of a bulk discard. */
const CHUNK = 500;

export interface DeadLetterDiscardOptions {
  client: RedisClient;
  keys: Keys;
  handles: QueueHandles;
  query: DeadLetterQuery;
  events: EventBus;
}

/** Groups refs by queue, keeping their order inside each group. */
export function byQueue<T extends DeadLetterRef>(refs: readonly T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const ref of refs) {
    const id = `${ref.topic}/${ref.queue}`;
    const group = groups.get(id);
    if (group) group.push(ref);
    else groups.set(id, [ref]);
  }
  return [...groups.values()];
}

/** Discarding dead letters: the job is removed from BullMQ for good, with its index entries. */
export function createDeadLetterDiscard(options: DeadLetterDiscardOptions) {
  const { client, keys, handles, query, events } = options;
  const commands = defineCommands(client);

  /**
   * Removes dead letters of one queue, each only if it still is one and failed no later than `latest`
   * (ms). Answers the ids of the jobs removed.
   */
  async function discardJobs(
    topic: string,
    queue: string,
    jobIds: readonly string[],
    latest = '+inf',
  ): Promise<string[]> {
    const removed: string[] = [];
    for (let start = 0; start < jobIds.length; start += CHUNK) {
      const call = discardCall(keys, topic, queue, jobIds.slice(start, start + CHUNK), latest);
      const answer = await commands.run<string[]>('dead-letter-discard-n', call.keys, call.args);
      for (const jobId of answer) {
        if (!jobId.startsWith('!')) {
          removed.push(jobId);
          continue;
        }
        // Part of a flow: BullMQ's own removal updates the parent. Its index entry is dropped on the next read.
        if ((await handles.get(topic, queue).remove(jobId.slice(1))) === 1) removed.push(jobId.slice(1));
      }
    }
    announce(topic, queue, removed, null);
    return removed;
  }

  function announce(topic: string, queue: string, jobIds: readonly string[], error: string | null): void {
    if (events.size === 0) return;
    const at = new Date().toISOString();
    for (const messageId of jobIds) {
      events.emit({ kind: 'DISCARDED', at, topic, queue, messageId, attempt: null, reason: null, error });
    }
  }

  return {
    discardJobs,
    /** Discards one dead letter; NOT_FOUND when it is not one (any more). */
    async discard(id: string): Promise<boolean> {
      const ref = parseDeadLetterId(id);
      const [removed] = await discardJobs(ref.topic, ref.queue, [ref.jobId]);
      if (removed === undefined) throw deadLetterGone(id);
      return true;
    },
    /** Discards every dead letter the filter selects; answers how many. */
    async discardMany(filter: DeadLetterFilter): Promise<number> {
      const prepared = await query.prepare(filter);
      const bound = Math.ceil((await prepared.count()) / CHUNK) + 2;
      let total = 0;
      for (let round = 0; round < bound; round++) {
        const { refs } = await prepared.select(null, CHUNK);
        if (refs.length === 0) break;
        let removed = 0;
        for (const group of byQueue<SelectedRef>(refs)) {
          const [first] = group;
          if (!first) continue;
          const ids = group.map((ref) => ref.jobId);
          removed += (await discardJobs(first.topic, first.queue, ids)).length;
        }
        total += removed;
        // Selected but not removed: it left the failed set meanwhile (and the index with it), or it
        // is a flow job BullMQ refused to remove; either way another round would not help.
        if (removed === 0) break;
      }
      return total;
    },
  };
}

export type DeadLetterDiscard = ReturnType<typeof createDeadLetterDiscard>;
