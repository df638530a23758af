import { assertName, badInput, FAILURE_REASONS, type FailureReason, notFound } from '../core/index.js';
import type { Commands, Keys, RedisClient } from '../redis/index.js';
import { defineCommands } from '../redis/index.js';
import type { Registry, RoutingTable } from '../registry/index.js';
import { type Cursor, type DeadLetterRef, newestFirst } from './ids.js';
import type { DeadLetterIndex, QueueRef } from './indexer.js';
import { type PageWalk, walkIndex } from './page.js';
import type { RawDeadLetter } from './record.js';

/** What a dead-letter query, bulk replay or bulk discard selects. Every field narrows; none means all. */
export interface DeadLetterFilter {
  topic?: string | null;
  queue?: string | null;
  reason?: FailureReason | null;
  /** Failed at or after this time. */
  from?: Date | null;
  /** Failed at or before this time. */
  to?: Date | null;
  /** Case-insensitive substring of the error or of the message id. */
  search?: string | null;
}

/** A selected dead letter: where it is and when it failed (ms), the page order's key. */
export interface SelectedRef extends DeadLetterRef, Cursor {
  /** The job as Redis holds it, when the selection was asked to bring it along. */
  raw?: RawDeadLetter;
}

/** One topic's share of a query: the index set to walk and the queues whose counts to check first. */
interface Scope {
  topic: string;
  set: string;
  queues: QueueRef[];
}

interface Plan {
  scopes: Scope[];
  min: string;
  max: string;
  search: string;
}

/** Entries one Lua call looks at while selecting or counting; keeps each call around a millisecond. */
const SELECT_BUDGET = 2000;
const COUNT_BUDGET = 10_000;
const SEARCH_MAX = 256;

/** What the query's Redis work runs on. */
interface QueryRedis {
  client: RedisClient;
  keys: Keys;
  commands: Commands;
}

export interface DeadLetterQueryOptions {
  client: RedisClient;
  keys: Keys;
  registry: Registry;
  index: DeadLetterIndex;
}

/** Selecting and counting dead letters through the index, across topics, newest first. */
export function createDeadLetterQuery(options: DeadLetterQueryOptions) {
  const { client, keys, registry, index } = options;
  const redis: QueryRedis = { client, keys, commands: defineCommands(client) };

  /**
   * A prepared query: the filter checked and the index brought in step with BullMQ's failed sets
   * (one round trip when nothing drifted), ready to select pages and to count.
   */
  async function prepare(filter: DeadLetterFilter) {
    const planned = await plan(registry, keys, filter);
    await index.check(planned.scopes.flatMap((scope) => scope.queues));
    return {
      /**
       * Up to `limit` dead letters after the cursor, newest first, and whether more follow; with
       * `hydrate`, each with its job as Redis holds it (read in the same Lua call).
       */
      async select(
        after: Cursor | null,
        limit: number,
        hydrate = false,
      ): Promise<{ refs: SelectedRef[]; hasMore: boolean }> {
        const pages = await Promise.all(
          planned.scopes.map((scope) => walk(redis, planned, scope, after, limit + 1, hydrate)),
        );
        const merged = pages.flat().sort(newestFirst);
        return { refs: merged.slice(0, limit), hasMore: merged.length > limit };
      },
      /** How many dead letters match, whatever the cursor. Without `search` this is one ZCOUNT per topic. */
      async count(): Promise<number> {
        const totals = await Promise.all(planned.scopes.map((scope) => countScope(redis, planned, scope)));
        return totals.reduce((sum, total) => sum + total, 0);
      },
    };
  }

  return { prepare };
}

export type DeadLetterQuery = ReturnType<typeof createDeadLetterQuery>;

/** Checks the filter and turns it into index sets to walk; NOT_FOUND for a topic or queue that does not exist. */
async function plan(registry: Registry, keys: Keys, filter: DeadLetterFilter): Promise<Plan> {
  const { from, to, search } = checkFilter(filter);
  const wanted = filter.topic != null ? [{ topic: filter.topic, queue: filter.queue ?? undefined }] : [];
  const scopes = scopesOf(await registry.tableKnowing(wanted), keys, filter);
  return {
    scopes,
    min: from === null ? '-inf' : String(from),
    max: to === null ? '+inf' : String(to),
    search,
  };
}

/** The filter's checked names, times and search text (VALIDATION for what is off). */
function checkFilter(filter: DeadLetterFilter): { from: number | null; to: number | null; search: string } {
  const { topic, queue, reason } = filter;
  if (topic != null) assertName('filter.topic', topic);
  if (queue != null) assertName('filter.queue', queue);
  if (reason != null && !FAILURE_REASONS.includes(reason)) {
    throw badInput(`filter.reason must be one of ${FAILURE_REASONS.join(', ')}`, {
      field: 'filter.reason',
    });
  }
  const from = timeOf('filter.from', filter.from);
  const to = timeOf('filter.to', filter.to);
  if (from !== null && to !== null && from > to) {
    throw badInput('filter.from must not be later than filter.to', { field: 'filter.from' });
  }
  const search = (filter.search ?? '').toLowerCase();
  if (search.length > SEARCH_MAX) {
    throw badInput(`filter.search is longer than ${SEARCH_MAX} characters`, { field: 'filter.search' });
  }
  return { from, to, search };
}

/** Per topic the filter covers, the one index set that matches it and the queues it covers. */
function scopesOf(table: RoutingTable, keys: Keys, filter: DeadLetterFilter): Scope[] {
  const { topic, queue, reason } = filter;
  const topics = topic != null ? [table.topic(topic)] : table.topics();
  if (topic != null && !topics[0]) throw notFound(`Topic ${topic} does not exist`);
  const scopes: Scope[] = [];
  for (const found of topics) {
    if (!found) continue;
    const queues = table.queues(found.name).filter((candidate) => queue == null || candidate.name === queue);
    if (queue != null && queues.length === 0) continue;
    const sets = keys.deadLetters(found.name);
    const set =
      queue != null
        ? reason != null
          ? sets.queueReason(queue, reason)
          : sets.queue(queue)
        : reason != null
          ? sets.reason(reason)
          : sets.base;
    scopes.push({
      topic: found.name,
      set,
      queues: queues.map((candidate) => ({ topic: found.name, queue: candidate.name })),
    });
  }
  if (queue != null && scopes.length === 0) {
    throw notFound(
      topic != null ? `Queue ${queue} of topic ${topic} does not exist` : `No topic has a queue ${queue}`,
    );
  }
  return scopes;
}

/** Walks one topic's set from the cursor on and answers up to `want` entries, in order. */
async function walk(
  { client, keys, commands }: QueryRedis,
  plan: Plan,
  scope: Scope,
  after: Cursor | null,
  want: number,
  hydrate: boolean,
): Promise<SelectedRef[]> {
  const prefix = `${scope.topic}/`;
  const useCursor = after !== null && (plan.max === '+inf' || after.failedAt <= Number(plan.max));
  const cursorId = useCursor && after ? after.id : '';
  const request = {
    ...scopeWalk(plan, scope),
    max: useCursor && after ? String(after.failedAt) : plan.max,
    cursorId,
    cursorMember: cursorId.startsWith(prefix) ? cursorId.slice(prefix.length) : '',
    budget: SELECT_BUDGET,
    hydrate,
  };
  const found: SelectedRef[] = [];
  let rank = -1;
  // A walk that neither ends nor fills the page has looked at SELECT_BUDGET entries, so this
  // bound (read only when a page needs a second walk) is never what ends a walk.
  let bound = 2;
  for (let round = 0; round < bound && found.length < want; round++) {
    if (round === 1) bound = (await client.zcard(scope.set)) / SELECT_BUDGET + 2;
    const answer = await walkIndex(client, commands, keys, { ...request, rank, want: want - found.length });
    for (const [member, score, failedAt = null, ...rest] of answer.entries) {
      const slash = member.indexOf('/');
      const logs = (rest.pop() ?? []) as string[];
      found.push({
        topic: scope.topic,
        queue: member.slice(0, slash),
        jobId: member.slice(slash + 1),
        failedAt: Number(score),
        id: prefix + member,
        raw: hydrate
          ? { failedAt: failedAt as string | null, fields: rest as (string | null)[], logs }
          : undefined,
      });
    }
    rank = answer.next;
    if (rank < 0) break;
  }
  return found;
}

async function countScope({ client, keys, commands }: QueryRedis, plan: Plan, scope: Scope): Promise<number> {
  if (plan.search === '') return client.zcount(scope.set, plan.min, plan.max);
  let total = 0;
  let rank = -1;
  const bound = (await client.zcard(scope.set)) / COUNT_BUDGET + 2;
  for (let round = 0; round < bound; round++) {
    const { next, matches } = await walkIndex(client, commands, keys, {
      ...scopeWalk(plan, scope),
      rank,
      budget: COUNT_BUDGET,
      countOnly: true,
    });
    total += matches;
    if (next < 0) break;
    rank = next;
  }
  return total;
}

/** A walk over one scope's set under the plan's filter, from its start, answering nothing yet. */
function scopeWalk(plan: Plan, scope: Scope): PageWalk {
  return {
    topic: scope.topic,
    set: scope.set,
    queues: scope.queues.map((ref) => ref.queue),
    max: plan.max,
    min: plan.min,
    cursorId: '',
    cursorMember: '',
    rank: -1,
    want: 0,
    budget: 0,
    search: plan.search,
    countOnly: false,
    hydrate: false,
    dropUnlisted: false,
  };
}

function timeOf(field: string, value: Date | null | undefined): number | null {
  if (value == null) return null;
  const time = value.getTime();
  if (Number.isNaN(time)) throw badInput(`${field} is not a valid date`, { field });
  return Math.max(0, Math.floor(time));
}
