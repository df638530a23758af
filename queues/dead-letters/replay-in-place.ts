import type { Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import type { FailureReason, TopicRecord } from '../core/index.js';
import { conflict } from '../core/index.js';
import type { Keys, RedisClient } from '../redis/index.js';
import { answers, queueCommand } from '../redis/index.js';
import { releaseCall } from './commands.js';
import {
  assertLinked,
  type ReplayTrail,
  type ReplayWatch,
  type TrailStepOf,
  trailArgs,
  WATCH_TRIES,
} from './replay-watch.js';

/** One dead letter of a replay, as the release command takes it, with its trail step. */
export interface ReplayItem {
  jobId: string;
  /** New job data, or '' to keep it. */
  data: string;
  messageId: string;
  reason: FailureReason | null;
  /** The trail entry the replay appends (docs/PROVENANCE.md). */
  step: TrailStepOf;
}

export interface InPlaceContext {
  watch: ReplayWatch;
  keys: Keys;
  trail: ReplayTrail;
}

/**
 * The items in rounds where no message appears twice: two jobs of one queue can hold one message (a
 * replayTopic task's copy beside the published one), and each entry of a MULTI links to the head read
 * before it, so a second entry for the same trail must wait for the first.
 */
function rounds(items: readonly ReplayItem[]): ReplayItem[][] {
  const out: { ids: Set<string>; items: ReplayItem[] }[] = [];
  for (const item of items) {
    let round = out.find(({ ids }) => !ids.has(item.step.message.id));
    if (!round) {
      round = { ids: new Set(), items: [] };
      out.push(round);
    }
    round.ids.add(item.step.message.id);
    round.items.push(item);
  }
  return out.map((round) => round.items);
}

/** One round: a MULTI under WATCH of its trails, made again when the WATCH is broken. */
async function replayRound(
  context: InPlaceContext,
  topic: TopicRecord,
  queue: string,
  items: readonly ReplayItem[],
  watching: RedisClient,
  bull: Queue,
): Promise<Set<string>> {
  const { keys } = context;
  const keysOf = keys.bull(topic.name, queue);
  for (let attempt = 0; attempt < WATCH_TRIES; attempt++) {
    await watching.watch(...items.map((item) => keys.trail(topic.name, item.step.message.id)));
    const steps = items.map((item) => ({ jobId: item.jobId, step: item.step }));
    const { trailKeys, args } = await trailArgs(watching, keys, topic, steps, context.trail);
    // BullMQ's own MULTI on the watching connection: it runs BullMQ's scripts, and ours are defined there too.
    const multi = (await bull.client).multi();
    const transaction = multi as unknown as ChainableCommander;
    queueCommand(transaction, 'trail-append-n', [keysOf.failed, ...trailKeys], args);
    const release = releaseCall(keys, topic.name, queue, items, new Date());
    queueCommand(transaction, 'dead-letter-release-n', release.keys, release.args);
    for (const { jobId } of items) reprocess(bull, multi, keysOf, jobId);
    const results = await multi.exec();
    if (results === null) continue;
    const [appended, released, ...reprocessed] = answers(results) as [number[], number[], ...number[]];
    assertLinked(appended);
    return replayedOf(items, released, reprocessed);
  }
  throw conflict(`Dead letters of ${topic.name}/${queue} kept changing during the replay; try again`);
}

/**
 * Replays jobs of one queue where they are, each with its trail entry, in a MULTI under WATCH of
 * their trails: trail-append-n, our release command and BullMQ's reprocessJob all check the failed
 * set, so for each job all three act or none does. Answers the job ids replayed.
 */
export function replayInPlace(
  context: InPlaceContext,
  topic: TopicRecord,
  queue: string,
  items: readonly ReplayItem[],
): Promise<Set<string>> {
  const { keys } = context;
  return context.watch.run(keys.bullPrefix(topic.name), queue, async (watching, bull) => {
    const replayed = new Set<string>();
    for (const round of rounds(items)) {
      for (const jobId of await replayRound(context, topic, queue, round, watching, bull))
        replayed.add(jobId);
    }
    return replayed;
  });
}

type BullKeysOf = ReturnType<Keys['bull']>;

/** BullMQ's own reprocessJob: the job back to waiting, attempts reset (queued on the MULTI). */
function reprocess(
  bull: Queue,
  multi: Parameters<Queue['scripts']['execCommand']>[0],
  keysOf: BullKeysOf,
  jobId: string,
): void {
  bull.scripts.execCommand(multi, 'reprocessJob', [
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

function replayedOf(items: readonly ReplayItem[], released: number[], reprocessed: number[]): Set<string> {
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
