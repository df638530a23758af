import type { MessageRecord, TopicRecord } from '../core/index.js';
import { assertInt, badInput } from '../core/index.js';
import { type Commands, defineCommands, type Keys, type RedisClient } from '../redis/index.js';

/** The most messages one page of a topic's history holds. */
export const MAX_HISTORY_PAGE = 1000;
/** How many entries one read of a history scan takes (`find`). */
const SCAN_PAGE = 1000;

/** One entry of a topic's history: its stream id (the cursor) and the message, with that cursor. */
export interface HistoryEdge {
  cursor: string;
  node: MessageRecord;
}

export interface HistoryPage {
  edges: HistoryEdge[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
}

/** What Topic.history shows. */
export interface HistoryInfo {
  maxAgeMs: number | null;
  maxMessages: number | null;
  length: number;
  oldestAt: Date | null;
}

/** Where a read of the history starts: after a cursor, or at a time; neither: the oldest retained. */
export interface HistoryStart {
  after?: string | null;
  from?: Date | null;
}

type StreamEntry = [id: string, fields: string[]];

const CURSOR = /^(\d{1,15})-(\d{1,19})$/;

/** A cursor as a client sends it: a stream id `<ms>-<seq>`; anything else is BAD_USER_INPUT. */
export function parseCursor(field: string, cursor: string): { ms: number; seq: bigint } {
  const match = CURSOR.exec(cursor);
  if (!match) {
    throw badInput(
      `${field} must be a history cursor (<ms>-<seq>, as Message.cursor), got ${JSON.stringify(cursor)}`,
      {
        field,
      },
    );
  }
  return { ms: Number(match[1]), seq: BigInt(match[2] as string) };
}

/** Whether stream id `a` comes after `b` (both well formed). */
export function cursorAfter(a: string, b: string): boolean {
  const x = parseCursor('cursor', a);
  const y = parseCursor('cursor', b);
  return x.ms !== y.ms ? x.ms > y.ms : x.seq > y.seq;
}

/** A history entry as a message: field `m` holds the message JSON its jobs store. */
function entryMessage([id, fields]: StreamEntry): MessageRecord {
  const at = fields.indexOf('m');
  const json = at >= 0 ? fields[at + 1] : undefined;
  if (json === undefined) throw new Error(`History entry ${id} holds no message`);
  return { ...(JSON.parse(json) as MessageRecord), cursor: id };
}

interface Reader {
  client: RedisClient;
  keys: Keys;
}

/** The index's field naming the first entry it indexed (queues/redis/commands/history-trim.ts). */
const INDEX_SINCE = '~since';

/** Refuses a topic that keeps no history. */
function settingsOf(topic: TopicRecord) {
  if (!topic.history) {
    throw badInput(`Topic ${topic.name} keeps no history (createTopic with history keeps one)`, {
      field: 'topic',
    });
  }
  return topic.history;
}

/** The XRANGE start for a read: after a cursor, from a time, never before what maxAgeMs keeps. */
function startOf(topic: TopicRecord, start: HistoryStart, now: number): string {
  const { maxAgeMs } = settingsOf(topic);
  if (start.after != null && start.from != null) {
    throw badInput('Give after or from, not both', { field: 'after' });
  }
  const floor = maxAgeMs === null ? 0 : now - maxAgeMs;
  if (start.after != null) {
    const { ms } = parseCursor('after', start.after);
    return ms < floor ? `${floor}-0` : `(${start.after}`;
  }
  if (start.from != null) {
    const from = start.from.getTime();
    if (!Number.isFinite(from)) throw badInput('from must be a time', { field: 'from' });
    return `${Math.max(from, floor, 0)}-0`;
  }
  return floor > 0 ? `${floor}-0` : '-';
}

async function range(reader: Reader, key: string, start: string, count: number): Promise<StreamEntry[]> {
  return (await reader.client.xrange(key, start, '+', 'COUNT', count)) as StreamEntry[];
}

/** A page of the history, oldest first; BAD_USER_INPUT for a topic that keeps none. */
async function page(
  reader: Reader,
  topic: TopicRecord,
  start: HistoryStart,
  first = 100,
): Promise<HistoryPage> {
  assertInt('first', first, 1, MAX_HISTORY_PAGE);
  const key = reader.keys.topicHistory(topic.name);
  const entries = await range(reader, key, startOf(topic, start, Date.now()), first + 1);
  const edges = entries.slice(0, first).map((entry) => ({ cursor: entry[0], node: entryMessage(entry) }));
  return {
    edges,
    pageInfo: {
      hasNextPage: entries.length > first,
      hasPreviousPage: start.after != null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

/**
 * Topic.history: its settings, length and oldest message's time; null when it keeps none. Trims
 * what maxAgeMs no longer keeps first (as the next publish would), so the length is exact.
 */
async function info(reader: Reader, commands: Commands, topic: TopicRecord): Promise<HistoryInfo | null> {
  if (!topic.history) return null;
  const { maxAgeMs, maxMessages } = topic.history;
  const { keys } = reader;
  // With the index (history-trim), so what the trim removes leaves no index field behind.
  const [length, oldest] = await commands.run<[number, string | null]>(
    'history-trim-2',
    [keys.topicHistory(topic.name), keys.topicHistoryIds(topic.name)],
    [maxAgeMs === null ? 0 : Date.now() - maxAgeMs],
  );
  const oldestAt = oldest ? new Date(parseCursor('cursor', oldest).ms) : null;
  return { maxAgeMs, maxMessages, length: Number(length), oldestAt };
}

/**
 * One message of the history by id, or null: its entry's stream id from the history's index, then
 * that one entry (absent or older than maxAgeMs keeps: trimmed, null). A message the index does not
 * name may have been stored before the index existed: the part of the history older than the index's
 * first entry is scanned for it (nothing, once that part is trimmed away).
 */
async function find(reader: Reader, topic: TopicRecord, id: string): Promise<MessageRecord | null> {
  if (!topic.history) return null;
  const key = reader.keys.topicHistory(topic.name);
  const [streamId, since] = await reader.client.hmget(
    reader.keys.topicHistoryIds(topic.name),
    id,
    INDEX_SINCE,
  );
  const floor = startOf(topic, {}, Date.now());
  if (streamId) {
    if (floor !== '-' && cursorAfter(floor, streamId)) return null;
    const [entry] = await reader.client.xrange(key, streamId, streamId);
    return entry ? entryMessage(entry as StreamEntry) : null;
  }
  return scan(reader, key, id, floor, since ? `(${since}` : '+');
}

/** Scans the history from `from` to `end` for a message by id, in reads of 1000: O(entries scanned). */
async function scan(
  reader: Reader,
  key: string,
  id: string,
  from: string,
  end: string,
): Promise<MessageRecord | null> {
  const needle = `"id":${JSON.stringify(id)},`;
  let start = from;
  for (;;) {
    const entries = (await reader.client.xrange(key, start, end, 'COUNT', SCAN_PAGE)) as StreamEntry[];
    const hit = entries.find(([, fields]) => fields.some((field) => field.startsWith(`{${needle}`)));
    if (hit) return entryMessage(hit);
    const last = entries.at(-1);
    if (!last || entries.length < SCAN_PAGE) return null;
    start = `(${last[0]}`;
  }
}

/**
 * A topic's history, read: pages oldest first, one message by id, and the reads a history-first
 * subscription makes. Written only by publish-commit (queues/redis/commands/publish-commit.ts), in
 * the publish's own call; trimmed there by maxMessages exactly and by maxAgeMs at each write, so a
 * read also leaves out what is older than maxAgeMs but not yet trimmed.
 */
export function createHistory(reader: Reader) {
  const commands = defineCommands(reader.client);
  return {
    page: (topic: TopicRecord, start: HistoryStart, first?: number) => page(reader, topic, start, first),
    /** Entries after a start, up to `count`, for a subscription catching up: the same rules as `page`. */
    async read(topic: TopicRecord, start: HistoryStart, count: number): Promise<MessageRecord[]> {
      const key = reader.keys.topicHistory(topic.name);
      return (await range(reader, key, startOf(topic, start, Date.now()), count)).map(entryMessage);
    },
    info: (topic: TopicRecord) => info(reader, commands, topic),
    find: (topic: TopicRecord, id: string) => find(reader, topic, id),
  };
}

export type History = ReturnType<typeof createHistory>;
