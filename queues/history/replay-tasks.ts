import { randomUUID } from 'node:crypto';
import type { EventBus, MessageRecord, QueueRecord, TopicRecord } from '../core/index.js';
import { assertInt, assertName, badInput, conflict, DAY, notFound, SECOND } from '../core/index.js';
import {
  chainEntry,
  messageAdd,
  readLinks,
  storedEntry,
  type TrailLink,
  trailTtl,
} from '../publish/index.js';
import type { Commands, Keys, QueueHandles, RedisClient } from '../redis/index.js';
import { PublishCommit, ROUTING_MOVED, TRAIL_MOVED } from '../redis/index.js';
import type { Registry } from '../registry/index.js';
import {
  countRange,
  finishTask,
  getTask,
  listTasks,
  type ReplayTaskRecord,
  readTask,
  saveTask,
  type TaskStore,
} from './replay-task-store.js';

export { REPLAY_TASK_STATES, type ReplayTaskRecord, type ReplayTaskState } from './replay-task-store.js';

export interface ReplayTopicInput {
  topic: string;
  queue: string;
  from: Date;
  to?: Date | null;
  ratePerSecond?: number | null;
  dryRun?: boolean | null;
  /** Who asks: the API key's name, recorded in each replayed message's trail. @default null */
  by?: string | null;
}

export interface ReplayTasksOptions {
  client: RedisClient;
  keys: Keys;
  commands: Commands;
  registry: Registry;
  handles: QueueHandles;
  /** Where each replayed message's REPLAYED event goes (delivery events show a task's progress). @default none */
  events?: EventBus;
  /**
   * How often each instance looks for RUNNING tasks no instance runs (after a restart, or an instance
   * that died), in ms.
   * @default 2000
   */
  resumeEveryMs?: number;
  /**
   * How long a running task's lease lasts without renewal; an instance that dies holds its tasks this long.
   * @default 10000
   */
  leaseMs?: number;
  /**
   * How long a finished task (DONE, CANCELLED, FAILED, or a dry run) is kept, from when it finished:
   * replayTask answers null and replayTasks leaves it out after that.
   * @default 7 days
   */
  finishedRetentionMs?: number;
  /** How long a replayed message's trail is kept, at least (docs/PROVENANCE.md). @default 14 days */
  trailRetentionMs?: number;
  onError: (error: Error) => void;
}

/** Most messages one batch (one Redis call) replays. */
const BATCH = 100;
/** The most a task may be asked to replay per second. */
export const MAX_REPLAY_RATE = 10_000;
/** How long a finished task is kept unless the engine is told otherwise. */
export const FINISHED_TASK_RETENTION_MS = 7 * DAY;
/** How long a running task's position key lives between batches (renewed by each). */
const POSITION_TTL_MS = 30 * DAY;
/** How often a batch is made again when a trail it appends to moved meanwhile. */
const TRAIL_TRIES = 3;
/** How many batches in a row may be refused because the topic's routing moved on, as for a publish. */
const ROUTING_TRIES = 3;

type StreamEntry = [id: string, fields: string[]];

/**
 * Where a batch goes: the task's topic and queue as the registry held them, read after `version`, the
 * topic's routing version (keys.topicRouting), so the records are at least that new.
 */
interface BatchTarget {
  topic: TopicRecord;
  queue: QueueRecord;
  version: string;
}

/** What a task runner shares. */
interface Runner {
  options: ReplayTasksOptions;
  store: TaskStore;
  leaseMs: number;
  instance: string;
  /** Tasks this instance runs now, by id, each with its loop's promise. */
  running: Map<string, Promise<void>>;
  closed: boolean;
}

async function holdLease(runner: Runner, task: ReplayTaskRecord, take: boolean): Promise<boolean> {
  const { client, keys } = runner.options;
  const key = keys.replayTasks.lease(task.topic, task.id);
  if (take) return (await client.set(key, runner.instance, 'PX', runner.leaseMs, 'NX')) === 'OK';
  if ((await client.get(key)) !== runner.instance) return false;
  await client.pexpire(key, runner.leaseMs);
  return true;
}

/**
 * The writes of one batch: the adds, a trail entry per message (REPLAYED_TO_QUEUE, linked to the heads
 * read now: a message's stored head, or its PUBLISHED entry derived from the history's record of it),
 * `done` and the position, all in one publish-commit call, applied only while the topic's routing
 * version is still the target's (a publish's check: a queue deleted meanwhile gets nothing).
 */
async function batchCommit(
  runner: Runner,
  task: ReplayTaskRecord,
  { topic, queue, version }: BatchTarget,
  entries: StreamEntry[],
): Promise<{ commit: PublishCommit; messages: MessageRecord[] }> {
  const { client, keys, handles } = runner.options;
  const tk = keys.replayTasks;
  const messages = entries.map(
    ([, fields]) => JSON.parse(fields[fields.indexOf('m') + 1] ?? '') as MessageRecord,
  );
  const trailKeys = messages.map((message) => keys.trail(task.topic, message.id));
  const links = await readLinks(client, trailKeys, messages);
  const commit = new PublishCommit();
  commit.routedAt(keys.topicRouting(task.topic), task.topic, version);
  const handle = handles.get(task.topic, task.queue);
  const now = Date.now();
  const at = new Date(now).toISOString();
  const ttl = trailTtl(runner.options.trailRetentionMs, topic.history ?? null);
  entries.forEach(([streamId, fields], index) => {
    const message = messages[index] as MessageRecord;
    const json = fields[fields.indexOf('m') + 1] ?? '';
    const add = messageAdd(queue, message, Buffer.from(json), now);
    commit.add(handle, { ...add, jobId: `replay-${task.id}-${streamId}` });
    const link = links[index] as TrailLink;
    const entry = chainEntry(message.id, link.prevHash, {
      action: 'REPLAYED_TO_QUEUE',
      at,
      by: task.by,
      queue: task.queue,
      sha256: message.sha256,
    });
    commit.trail(trailKeys[index] as string, link.expectedHead, entry.hash, storedEntry(entry), ttl);
  });
  commit.hincrby(tk.task(task.topic, task.id), 'done', entries.length);
  commit.set(tk.position(task.topic, task.id), (entries.at(-1) as StreamEntry)[0], POSITION_TTL_MS);
  return { commit, messages };
}

/**
 * One batch, whole or not at all. Answers how many it replayed (0: none left), or null when the
 * topic's routing moved on since the target was read (nothing written): read the queue again.
 */
async function replayBatch(
  runner: Runner,
  task: ReplayTaskRecord,
  target: BatchTarget,
  size: number,
): Promise<number | null> {
  const { client, keys, commands, events } = runner.options;
  const position = await client.get(keys.replayTasks.position(task.topic, task.id));
  const start = position === null ? String(task.from) : `(${position}`;
  const range = [keys.topicHistory(task.topic), start, String(task.to), 'COUNT', size] as const;
  const entries = (await client.xrange(...range)) as StreamEntry[];
  if (entries.length === 0) return 0;
  for (let attempt = 0; attempt < TRAIL_TRIES; attempt++) {
    const { commit, messages } = await batchCommit(runner, task, target, entries);
    const [refusal] = await commit.run((k, a) => commands.run('publish-commit-n', k, a), 1);
    // Another step appended to one of the trails since its head was read: make the entries again.
    if (refusal?.startsWith(TRAIL_MOVED)) continue;
    if (refusal?.startsWith(ROUTING_MOVED)) return null;
    if (refusal) throw new Error(`Replay batch refused: ${refusal}`);
    if (events && events.size > 0) {
      const at = new Date().toISOString();
      for (const message of messages) {
        events.emit({
          kind: 'REPLAYED',
          at,
          topic: task.topic,
          queue: task.queue,
          messageId: message.id,
          attempt: null,
          reason: null,
          error: null,
        });
      }
    }
    return entries.length;
  }
  throw new Error(`Replay batch refused: the trails of its messages kept moving (${TRAIL_TRIES} tries)`);
}

/** Paces a task: at most ratePerSecond on average, from when this instance took it. */
async function pace(task: ReplayTaskRecord, startedAt: number, replayedHere: number): Promise<void> {
  if (task.ratePerSecond === null) return;
  const due = startedAt + (replayedHere * SECOND) / task.ratePerSecond;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
}

async function runTask(runner: Runner, first: ReplayTaskRecord): Promise<void> {
  const { store } = runner;
  const { registry, onError, client, keys } = runner.options;
  const startedAt = Date.now();
  let replayedHere = 0;
  let movedInARow = 0;
  try {
    for (;;) {
      const task = await readTask(store, first.topic, first.id);
      if (runner.closed || !task || task.state !== 'RUNNING') return;
      if (!(await holdLease(runner, task, false))) return;
      // The version first, the records after (queues/registry/topic-routing.ts): publish-commit then
      // refuses the batch if the queue was deleted (or changed) on any instance since this read.
      const version = (await client.get(keys.topicRouting(task.topic))) ?? '0';
      const topic = (await registry.tableKnowing([{ topic: task.topic }])).topic(task.topic);
      const queue = await registry.getQueue(task.topic, task.queue);
      if (!topic || !queue) {
        return finishTask(store, task, 'FAILED', `Queue ${task.queue} of topic ${task.topic} was deleted`);
      }
      const size = task.ratePerSecond === null ? BATCH : Math.min(BATCH, task.ratePerSecond);
      const replayed = await replayBatch(runner, task, { topic, queue, version }, size);
      // The routing moved on: the next turn reads the queue again (FAILED above if it is gone).
      if (replayed === null && ++movedInARow < ROUTING_TRIES) continue;
      if (replayed === null) {
        const why = `The routing of ${task.topic} kept changing (${ROUTING_TRIES} tries); nothing of the batch was written`;
        return finishTask(store, task, 'FAILED', why);
      }
      movedInARow = 0;
      if (replayed === 0) return finishTask(store, task, 'DONE');
      replayedHere += replayed;
      await pace(task, startedAt, replayedHere);
    }
  } catch (error) {
    onError(error as Error);
    const task = await readTask(store, first.topic, first.id).catch(() => null);
    if (task?.state === 'RUNNING' && !runner.closed) {
      await finishTask(store, task, 'FAILED', (error as Error).message).catch(onError);
    }
  } finally {
    if (runner.closed) await client.del(keys.replayTasks.lease(first.topic, first.id)).catch(() => {});
    runner.running.delete(first.id);
  }
}

/** Runs the task on this instance if no other holds it. */
async function adopt(runner: Runner, task: ReplayTaskRecord): Promise<void> {
  if (runner.closed || runner.running.has(task.id) || task.state !== 'RUNNING') return;
  if (!(await holdLease(runner, task, true))) return;
  runner.running.set(task.id, runTask(runner, task));
}

/** Checks a replayTopic request and makes its task record (not stored yet). */
async function newTask(runner: Runner, input: ReplayTopicInput): Promise<ReplayTaskRecord> {
  const { registry, client, keys } = runner.options;
  assertName('topic', input.topic);
  assertName('queue', input.queue);
  const topic: TopicRecord | undefined = (await registry.tableKnowing([{ topic: input.topic }])).topic(
    input.topic,
  );
  if (!topic) throw notFound(`Topic ${input.topic} does not exist`);
  if (!topic.history) throw badInput(`Topic ${topic.name} keeps no history to replay`, { field: 'topic' });
  if (!(await registry.getQueue(topic.name, input.queue))) {
    throw notFound(`Queue ${input.queue} of topic ${topic.name} does not exist`);
  }
  const now = Date.now();
  const from = input.from.getTime();
  const to = input.to ? input.to.getTime() : now;
  if (!Number.isFinite(from) || !Number.isFinite(to) || from < 0 || to < from) {
    throw badInput('from must be a time at or before to', { field: 'from' });
  }
  const ratePerSecond = input.ratePerSecond ?? null;
  if (ratePerSecond !== null) assertInt('ratePerSecond', ratePerSecond, 1, MAX_REPLAY_RATE);
  const dryRun = input.dryRun ?? false;
  return {
    id: randomUUID(),
    topic: topic.name,
    queue: input.queue,
    from,
    to,
    toGiven: Boolean(input.to),
    ratePerSecond,
    dryRun,
    state: dryRun ? 'DONE' : 'RUNNING',
    total: await countRange(client, keys.topicHistory(topic.name), from, to),
    done: 0,
    createdAt: now,
    finishedAt: dryRun ? now : null,
    error: null,
    by: input.by ?? null,
  };
}

async function replayTopic(runner: Runner, input: ReplayTopicInput): Promise<ReplayTaskRecord> {
  const { client, keys } = runner.options;
  const task = await newTask(runner, input);
  if (!task.dryRun) {
    const lock = keys.replayTasks.queueLock(task.topic, task.queue);
    if ((await client.set(lock, task.id, 'NX')) !== 'OK') {
      throw conflict(
        `Queue ${task.queue} of topic ${task.topic} has a replay task running: ${await client.get(lock)}`,
      );
    }
  }
  await saveTask(runner.store, task);
  if (!task.dryRun) await adopt(runner, task);
  return task;
}

/**
 * Tracked replays of a topic's history into one of its queues (`replayTopic`), at a bounded rate.
 *
 * Each batch of messages is one `publish-commit` call holding the BullMQ adds, each message's trail
 * entry (REPLAYED_TO_QUEUE, docs/PROVENANCE.md), the task's `done` count and its position (the stream
 * id of the last message added), all in the topic's hash tag: a batch is applied whole or not at all,
 * so a task picked up again after a restart goes on from its position and replays nothing twice. Each
 * add's job id is derived from the task id and the stream id (`replay-<task>-<stream id>`), so a call
 * resent after a lost answer finds its first job and writes nothing again. Each replayed message emits
 * a REPLAYED delivery event. An instance runs a task under a lease it renews; every instance looks for
 * RUNNING tasks without one, so a task outlives the instance that started it. One task per queue at a
 * time: a second answers CONFLICT. A finished task is kept for `finishedRetentionMs`.
 */
export function createReplayTasks(options: ReplayTasksOptions) {
  const runner: Runner = {
    options,
    store: {
      client: options.client,
      keys: options.keys,
      commands: options.commands,
      finishedRetentionMs: options.finishedRetentionMs ?? FINISHED_TASK_RETENTION_MS,
    },
    leaseMs: options.leaseMs ?? 10 * SECOND,
    instance: randomUUID(),
    running: new Map(),
    closed: false,
  };
  let timer: NodeJS.Timeout | null = null;
  const resumeAll = async () => {
    for (const task of await listTasks(runner.store)) await adopt(runner, task);
  };
  return {
    get: (id: string) => getTask(runner.store, id),
    list: () => listTasks(runner.store),
    /** Creates a task (answered RUNNING, or DONE for a dry run) and starts it on this instance. */
    replayTopic: (input: ReplayTopicInput) => replayTopic(runner, input),
    /** Stops a running task (what was replayed stays replayed); NOT_FOUND when there is no such task. */
    async cancel(id: string): Promise<ReplayTaskRecord> {
      const task = await getTask(runner.store, id);
      if (!task) throw notFound(`Replay task ${id} does not exist`);
      if (task.state === 'RUNNING') await finishTask(runner.store, task, 'CANCELLED');
      await runner.running.get(id);
      return (await getTask(runner.store, id)) as ReplayTaskRecord;
    },
    /** Starts looking for RUNNING tasks no instance runs (at once, then every resumeEveryMs). */
    start(): void {
      if (runner.closed || timer) return;
      const tick = () => void resumeAll().catch(options.onError);
      tick();
      timer = setInterval(tick, options.resumeEveryMs ?? 2 * SECOND);
      timer.unref();
    },
    /** Resolves once the tasks this instance runs are idle (for tests). */
    idle: async (): Promise<void> => {
      await Promise.all(runner.running.values());
    },
    /** Stops this instance's tasks after their batch under way, releasing their leases. Idempotent. */
    async close(): Promise<void> {
      runner.closed = true;
      if (timer) clearInterval(timer);
      timer = null;
      await Promise.all(runner.running.values());
    },
  };
}

export type ReplayTasks = ReturnType<typeof createReplayTasks>;
