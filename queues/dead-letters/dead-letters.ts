import type { EventBus } from '../core/index.js';
import { assertInt, ENGINE_DEFAULTS, MINUTE } from '../core/index.js';
import { createRedactor, DEFAULT_REDACTED_HEADERS, type Redact } from '../delivery/index.js';
import type { PayloadSchemas } from '../publish/index.js';
import type { Keys, QueueHandles, RedisClient } from '../redis/index.js';
import { defineCommands } from '../redis/index.js';
import type { Registry } from '../registry/index.js';
import { createDeadLetterDiscard } from './discard.js';
import { decodeCursor, encodeCursor, newestFirst, parseDeadLetterId } from './ids.js';
import { createDeadLetterIndex } from './indexer.js';
import { createDeadLetterQuery, type DeadLetterFilter, type DeadLetterQuery } from './query.js';
import { type DeadLetterRecord, readDeadLetters, toRecord } from './record.js';
import { createDeadLetterReplay, type ReplayOptions } from './replay.js';
import { createDeadLetterRetention } from './retention.js';

export type { DeadLetterFilter } from './query.js';
export type { DeadLetterRecord } from './record.js';
export type { ReplayOptions, ReplayResult } from './replay.js';

/** What a deployment tunes about dead letters (server/config.ts reads them from the environment). */
export interface DeadLetterSettings {
  /**
   * Dead letters older than this (ms since they failed) are removed by a periodic sweep; 0 keeps them
   * forever.
   * @default 1209600000 (14 days)
   */
  retentionMs?: number;
  /**
   * Folder that receives each dead letter the sweep removes, as NDJSON (one file per day of failure,
   * `2026-11-26.ndjson`); null removes without archiving.
   * @default null
   */
  archiveDir?: string | null;
  /**
   * Header names (case-insensitive globs, `*` for any run of characters) whose values are redacted in
   * the errors and attempt history a dead letter keeps.
   * @default ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', '*secret*', '*token*']
   */
  redactHeaders?: readonly string[];
  /**
   * How often the index is checked against BullMQ's failed sets and the retention sweep runs; every
   * 60th run also re-syncs every queue in full.
   * @default 60000 (1 minute)
   */
  maintenanceIntervalMs?: number;
}

export interface DeadLettersOptions extends DeadLetterSettings {
  client: RedisClient;
  keys: Keys;
  registry: Registry;
  handles: QueueHandles;
  schemas: PayloadSchemas;
  events: EventBus;
  onError?: (error: Error) => void;
}

export interface DeadLetterPage {
  edges: { cursor: string; node: DeadLetterRecord }[];
  /** Relay's PageInfo; the cursors are the first and last dead letter of this page (null when it is empty). */
  pageInfo: {
    hasNextPage: boolean;
    /** Whether some dead letter the filter selects comes at or before `after` (false without `after`). */
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
  /** Counted when asked for: one ZCOUNT per topic, or a scan of the index when the filter searches text. */
  totalCount(): Promise<number>;
}

/** Most dead letters one page answers. */
export const PAGE_SIZE_MAX = 1000;
const FULL_REPAIR_EVERY = 60;

/**
 * Dead letters: jobs that failed for good and stay in their BullMQ queue's failed set. Queried through
 * an index in each topic's hash tag, replayed, discarded, and removed after the retention age.
 */
export function createDeadLetters(options: DeadLettersOptions) {
  const { client, keys, registry } = options;
  const onError = options.onError ?? (() => {});
  const { redact, index, query, discarding, replaying, retention } = createParts(options);

  let closed: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let maintaining: Promise<void> = Promise.resolve();
  let runs = 0;

  /** One maintenance run: the counts check (or a full re-sync now and then), then the retention sweep. */
  function maintain(full: boolean): Promise<void> {
    maintaining = maintaining.then(async () => {
      if (closed) return;
      try {
        if (full) await index.repairAll(() => closed !== null);
        else {
          await index.check(await allQueues(registry));
        }
        if (!closed) await retention.sweep();
      } catch (error) {
        if (!closed) onError(error as Error);
      }
    });
    return maintaining;
  }

  return {
    /** The redactor the delivery paths run error texts through before they are stored. */
    redact,
    /** Indexes a job that just failed for good; the delivery paths call it. Never rejects. */
    record(topic: string, queue: string, jobId: string): Promise<void> {
      return index.record(topic, queue, jobId).catch((error: Error) => onError(error));
    },
    page: (filter: DeadLetterFilter = {}, pageOptions: { first?: number; after?: string | null } = {}) =>
      readPage(query, redact, filter, pageOptions),
    /** One dead letter by id, or null when there is none (any more). */
    async get(id: string): Promise<DeadLetterRecord | null> {
      const [record] = await readDeadLetters(client, keys, [parseDeadLetterId(id)], redact);
      return record ?? null;
    },
    replay: (id: string, replayOptions?: ReplayOptions) => replaying.replay(id, replayOptions),
    replayMany: (filter: DeadLetterFilter, limit = 1000, by: string | null = null) =>
      replaying.replayMany(filter, limit, by),
    discard: (id: string) => discarding.discard(id),
    discardMany: (filter: DeadLetterFilter) => discarding.discardMany(filter),
    /** Runs the retention sweep now (it also runs on the maintenance timer). */
    sweep: (now?: number) => retention.sweep(now),
    /** Re-syncs the whole index with BullMQ's failed sets now (it also runs at start). */
    repair: () => index.repairAll(),
    /** Forgets the index of a deleted queue. */
    dropQueue: (topic: string, queue: string) => index.dropQueue({ topic, queue }),
    /** Resolves once the maintenance run in progress (the repair on start, a timer run) is over. */
    idle: (): Promise<void> => maintaining,
    /** Starts the repair on start (in the background) and the maintenance timer. */
    start(intervalMs = options.maintenanceIntervalMs ?? MINUTE): void {
      if (closed || timer) return;
      void maintain(true);
      timer = setInterval(() => void maintain(++runs % FULL_REPAIR_EVERY === 0), intervalMs);
      timer.unref();
    },
    /** Stops the timer and waits for index writes in flight, so none is lost to a closing connection. */
    close(): Promise<void> {
      closed ??= (async () => {
        if (timer) clearInterval(timer);
        await maintaining;
        await index.flush();
        await replaying.close();
      })();
      return closed;
    },
  };
}

export type DeadLetters = ReturnType<typeof createDeadLetters>;

/** The parts dead letters are made of, each on the same client and keys. */
function createParts(options: DeadLettersOptions) {
  const { client, keys, registry, handles, schemas, events } = options;
  const redact = createRedactor(options.redactHeaders ?? DEFAULT_REDACTED_HEADERS);
  const index = createDeadLetterIndex({ client, keys, registry });
  const query = createDeadLetterQuery({ client, keys, registry, index });
  const discarding = createDeadLetterDiscard({ client, keys, handles, query, events });
  const replaying = createDeadLetterReplay({
    client,
    keys,
    registry,
    handles,
    schemas,
    query,
    events,
    redact,
  });
  const retention = createDeadLetterRetention({
    client,
    keys,
    registry,
    commands: defineCommands(client),
    index,
    discard: discarding,
    redact,
    retentionMs: options.retentionMs ?? ENGINE_DEFAULTS.deadLetterRetentionMs,
    archiveDir: options.archiveDir ?? null,
  });
  return { redact, index, query, discarding, replaying, retention };
}

/** Every queue of every topic, for the maintenance run's counts check. */
async function allQueues(registry: Registry): Promise<{ topic: string; queue: string }[]> {
  const table = await registry.table();
  return table
    .topics()
    .flatMap((topic) => table.queues(topic.name).map((queue) => ({ topic: topic.name, queue: queue.name })));
}

/** One page of dead letters, newest first, after the cursor. */
async function readPage(
  query: DeadLetterQuery,
  redact: Redact,
  filter: DeadLetterFilter,
  { first = 50, after = null }: { first?: number; after?: string | null },
): Promise<DeadLetterPage> {
  assertInt('first', first, 0, PAGE_SIZE_MAX);
  const cursor = after === null ? null : decodeCursor(after);
  const prepared = await query.prepare(filter);
  const [{ refs, hasMore }, hasPreviousPage] = await Promise.all([
    first === 0 ? { refs: [], hasMore: false } : prepared.select(cursor, first, true),
    // Something comes before the page when the newest selected dead letter is at or before the cursor.
    cursor === null
      ? false
      : prepared.select(null, 1).then(({ refs: [newest] }) => !!newest && newestFirst(newest, cursor) <= 0),
  ]);
  const edges = refs.flatMap((ref) => {
    const node = ref.raw ? toRecord(ref, ref.raw, redact) : null;
    return node ? [{ cursor: encodeCursor(ref), node }] : [];
  });
  const [start, last] = [refs.at(0), refs.at(-1)];
  let counted: Promise<number> | null = null;
  return {
    edges,
    pageInfo: {
      hasNextPage: hasMore,
      hasPreviousPage,
      startCursor: start ? encodeCursor(start) : null,
      endCursor: last ? encodeCursor(last) : null,
    },
    totalCount: () => {
      counted ??= prepared.count();
      return counted;
    },
  };
}
