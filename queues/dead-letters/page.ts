import { FAILURE_REASONS } from '../core/index.js';
import type { Commands, Keys, RedisClient } from '../redis/index.js';
import { REASONS_ARG } from './commands.js';

/** Index entries read per window: one ZREVRANGE and one dead-letter-page-n call each. */
const WINDOW = 200;

/** One walk over a topic's index set, from a rank, newest failure first. */
export interface PageWalk {
  topic: string;
  /** The index set walked. */
  set: string;
  /** The queues whose entries may be answered; their failed sets and index sets go along. */
  queues: readonly string[];
  /** Highest score answered ('+inf' or ms); with a cursor, the cursor's score. */
  max: string;
  /** Lowest score answered ('-inf' or ms): an entry below it ends the walk. */
  min: string;
  /** The cursor's id ('<topic>/<queue>/<jobId>'), '' for none. */
  cursorId: string;
  /** The cursor's member when it belongs to this topic, to start right after it; '' otherwise. */
  cursorMember: string;
  /** Rank to continue from (a previous answer's `next`), or -1 to start at `max` or the cursor. */
  rank: number;
  /** Entries to answer at most (ignored when counting). */
  want: number;
  /** Entries to look at in this walk at most. */
  budget: number;
  /** Lower-case substring of the failedReason or of the job id; '' for none. */
  search: string;
  countOnly: boolean;
  /** Answer each entry with its job's fields and logs, read with the check. */
  hydrate: boolean;
  /** Drop the entries of a queue not in `queues` (a deleted queue's) instead of passing over them. */
  dropUnlisted: boolean;
}

/** One entry of the answer: member, score, then (hydrated) the job's fields and logs. */
export type PageEntry = [string, string, ...(string | null | string[])[]];

export interface PageAnswer {
  /** Rank to continue from, or -1 when the walk reached the end. */
  next: number;
  matches: number;
  entries: PageEntry[];
}

/**
 * Walks a topic's index set for up to `walk.budget` entries: reads a window of entries, then checks
 * them in one dead-letter-page-n call that gets every key it touches (the job hashes and logs of
 * the window included) in KEYS.
 */
export async function walkIndex(
  client: RedisClient,
  commands: Commands,
  keys: Keys,
  walk: PageWalk,
): Promise<PageAnswer> {
  let rank = walk.rank < 0 ? await startRank(client, walk) : walk.rank;
  let looked = 0;
  const answer: PageAnswer = { next: -1, matches: 0, entries: [] };
  while (looked < walk.budget) {
    const size = Math.min(WINDOW, walk.budget - looked);
    const window = await client.zrevrange(walk.set, rank, rank + size - 1, 'WITHSCORES');
    if (window.length === 0) return { ...answer, next: -1 };
    const { consumed, dropped, finished, matches, entries } = await checkWindow(
      commands,
      keys,
      { ...walk, want: walk.want - answer.matches },
      window,
    );
    answer.matches += matches;
    answer.entries.push(...entries);
    looked += consumed;
    rank += consumed - dropped;
    if (finished) return { ...answer, next: -1 };
    if (!walk.countOnly && answer.matches >= walk.want) return { ...answer, next: rank };
    if (window.length < size * 2) return { ...answer, next: -1 };
  }
  return { ...answer, next: rank };
}

/** What one dead-letter-page-n call answers about a window. */
export interface WindowCheck {
  /** Entries looked at, from the window's start. */
  consumed: number;
  /** Of those, the ones no longer in the set walked (dropped here, or gone since the window was read). */
  dropped: number;
  /** An entry below `walk.min` ended the walk. */
  finished: boolean;
  matches: number;
  entries: PageEntry[];
}

/**
 * Checks a window read from `walk.set` (a ZREVRANGE … WITHSCORES answer) in one dead-letter-page-n
 * call, up to `walk.want` answers; every key it may touch goes in KEYS.
 */
export async function checkWindow(
  commands: Commands,
  keys: Keys,
  walk: PageWalk,
  window: readonly string[],
): Promise<WindowCheck> {
  const perEntry = walk.hydrate ? 2 : walk.search !== '' ? 1 : 0;
  const entryKeys = members(window).flatMap((member) => jobKeys(keys, walk.topic, member, perEntry));
  const [consumed, dropped, finished, matches, ...entries] = await commands.run<
    [number, number, number, number, ...PageEntry[]]
  >('dead-letter-page-n', [...fixedKeys(keys, walk), ...entryKeys], [...args(walk), ...window]);
  return { consumed, dropped, finished: finished === 1, matches, entries };
}

/** Where a walk starts: right after the cursor when it still stands at its score, else at `max`. */
async function startRank(client: RedisClient, walk: PageWalk): Promise<number> {
  const [score, rank, above] = await Promise.all([
    walk.cursorMember === '' ? null : client.zscore(walk.set, walk.cursorMember),
    walk.cursorMember === '' ? null : client.zrevrank(walk.set, walk.cursorMember),
    walk.max === '+inf' ? 0 : client.zcount(walk.set, `(${walk.max}`, '+inf'),
  ]);
  const maxScore = walk.max === '+inf' ? Number.POSITIVE_INFINITY : Number(walk.max);
  if (score !== null && rank !== null && Number(score) === maxScore) return rank + 1;
  return above;
}

/** KEYS before the window's: the set walked, the topic's sets, then each listed queue's. */
function fixedKeys(keys: Keys, walk: PageWalk): string[] {
  const sets = keys.deadLetters(walk.topic);
  return [
    walk.set,
    sets.base,
    ...FAILURE_REASONS.map((reason) => sets.reason(reason)),
    ...walk.queues.flatMap((queue) => [
      keys.bull(walk.topic, queue).failed,
      sets.queue(queue),
      ...FAILURE_REASONS.map((reason) => sets.queueReason(queue, reason)),
    ]),
  ];
}

function args(walk: PageWalk): (string | number)[] {
  return [
    walk.max,
    walk.min,
    walk.cursorId,
    `${walk.topic}/`,
    walk.queues.join(','),
    REASONS_ARG,
    walk.search,
    walk.countOnly ? '1' : '0',
    walk.hydrate ? '1' : '0',
    walk.dropUnlisted ? '1' : '0',
    walk.want,
  ];
}

/** The members of a ZREVRANGE … WITHSCORES answer. */
function members(window: readonly string[]): string[] {
  return window.filter((_, index) => index % 2 === 0);
}

/** The job keys the check of one entry may read: its hash, and its logs when hydrating. */
function jobKeys(keys: Keys, topic: string, member: string, perEntry: number): string[] {
  if (perEntry === 0) return [];
  // A member without '/' is dropped unread; its keys only hold their place in KEYS.
  const slash = member.indexOf('/');
  const bull = keys.bull(topic, slash < 0 ? '' : member.slice(0, slash));
  const jobId = member.slice(slash + 1);
  return perEntry === 2 ? [bull.job(jobId), bull.logs(jobId)] : [bull.job(jobId)];
}
