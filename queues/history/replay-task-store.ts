import type { Commands, Keys, RedisClient } from '../redis/index.js';

export const REPLAY_TASK_STATES = ['RUNNING', 'DONE', 'CANCELLED', 'FAILED'] as const;
export type ReplayTaskState = (typeof REPLAY_TASK_STATES)[number];

/** A replay task as stored and answered; times in ms. */
export interface ReplayTaskRecord {
  id: string;
  topic: string;
  queue: string;
  from: number;
  /** Inclusive; set to the creation time when none was given. */
  to: number;
  toGiven: boolean;
  ratePerSecond: number | null;
  dryRun: boolean;
  state: ReplayTaskState;
  total: number;
  done: number;
  createdAt: number;
  finishedAt: number | null;
  error: string | null;
  /** Who created it (the API key's name), recorded in the trail of each message it replays. */
  by: string | null;
}

/** Where the task records live, and how long a finished one is kept. */
export interface TaskStore {
  client: RedisClient;
  keys: Keys;
  commands: Commands;
  /** How long a finished task (its record and position) is kept after it finished. */
  finishedRetentionMs: number;
}

type StreamEntry = [id: string, fields: string[]];

const toNumber = (value: string | undefined) => (value === undefined || value === '' ? null : Number(value));

function parseTask(id: string, fields: Record<string, string>): ReplayTaskRecord | null {
  if (!fields.topic) return null;
  return {
    id,
    topic: fields.topic,
    queue: fields.queue ?? '',
    from: Number(fields.from),
    to: Number(fields.to),
    toGiven: fields.toGiven === '1',
    ratePerSecond: toNumber(fields.ratePerSecond),
    dryRun: fields.dryRun === '1',
    state: (fields.state ?? 'FAILED') as ReplayTaskState,
    total: Number(fields.total ?? 0),
    done: Number(fields.done ?? 0),
    createdAt: Number(fields.createdAt),
    finishedAt: toNumber(fields.finishedAt),
    error: fields.error || null,
    by: fields.by || null,
  };
}

export async function readTask(
  store: TaskStore,
  topic: string,
  id: string,
): Promise<ReplayTaskRecord | null> {
  return parseTask(id, await store.client.hgetall(store.keys.replayTasks.task(topic, id)));
}

export async function getTask(store: TaskStore, id: string): Promise<ReplayTaskRecord | null> {
  const topic = await store.client.hget(store.keys.replayTasks.index, id);
  return topic === null ? null : readTask(store, topic, id);
}

/**
 * Every task, oldest first. A finished task's record expires after the retention; its index entry (in
 * the registry's hash tag, so not in the same call) is dropped here, the first time a listing misses it.
 */
export async function listTasks(store: TaskStore): Promise<ReplayTaskRecord[]> {
  const { client, keys } = store;
  const index = await client.hgetall(keys.replayTasks.index);
  const entries = Object.entries(index);
  const tasks = await Promise.all(entries.map(([id, topic]) => readTask(store, topic, id)));
  const expired = entries.filter((_, at) => tasks[at] === null).map(([id]) => id);
  if (expired.length > 0) await client.hdel(keys.replayTasks.index, ...expired);
  return tasks
    .filter((task): task is ReplayTaskRecord => task !== null)
    .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
}

/** Counts the history's entries in [from, to], in reads of 1000 ids. */
export async function countRange(
  client: RedisClient,
  key: string,
  from: number,
  to: number,
): Promise<number> {
  let total = 0;
  let start = String(from);
  for (;;) {
    const entries = (await client.xrange(key, start, String(to), 'COUNT', 1000)) as StreamEntry[];
    total += entries.length;
    const last = entries.at(-1);
    if (!last || entries.length < 1000) return total;
    start = `(${last[0]}`;
  }
}

/** Stores a new task; a dry run is finished at once, so it expires from the start. */
export async function saveTask(store: TaskStore, task: ReplayTaskRecord): Promise<void> {
  const tk = store.keys.replayTasks;
  const key = tk.task(task.topic, task.id);
  const multi = store.client.multi().hset(key, {
    topic: task.topic,
    queue: task.queue,
    from: task.from,
    to: task.to,
    toGiven: task.toGiven ? '1' : '0',
    ratePerSecond: task.ratePerSecond ?? '',
    dryRun: task.dryRun ? '1' : '0',
    state: task.state,
    total: task.total,
    done: 0,
    createdAt: task.createdAt,
    finishedAt: task.finishedAt ?? '',
    by: task.by ?? '',
  });
  if (task.state !== 'RUNNING') multi.pexpire(key, store.finishedRetentionMs);
  await multi.hset(tk.index, task.id, task.topic).exec();
}

/** Marks a task finished: kept for the retention from now, its lease and its queue's lock released. */
export async function finishTask(
  store: TaskStore,
  task: ReplayTaskRecord,
  state: ReplayTaskState,
  error: string | null = null,
): Promise<void> {
  const tk = store.keys.replayTasks;
  const key = tk.task(task.topic, task.id);
  await store.client
    .multi()
    .hset(key, { state, finishedAt: Date.now(), error: error ?? '' })
    .pexpire(key, store.finishedRetentionMs)
    .pexpire(tk.position(task.topic, task.id), store.finishedRetentionMs)
    .del(tk.lease(task.topic, task.id))
    .exec();
  await store.commands.run<number>('release-claim-1', [tk.queueLock(task.topic, task.queue)], [task.id]);
}
