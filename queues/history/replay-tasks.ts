import { randomUUID } from 'node:crypto';
import type { MessageRecord, QueueRecord, TopicRecord } from '../core/index.js';
import { assertInt, assertName, badInput, conflict, DAY, notFound, SECOND } from '../core/index.js';
import { messageAdd } from '../publish/index.js';
import type { Commands, Keys, QueueHandles, RedisClient } from '../redis/index.js';
import { PublishCommit } from '../redis/index.js';
import type { Registry } from '../registry/index.js';

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
}

export interface ReplayTopicInput {
  topic: string;
  queue: string;
  from: Date;
  to?: Date | null;
  ratePerSecond?: number | null;
  dryRun?: boolean | null;
}

export interface ReplayTasksOptions {
  client: RedisClient;
  keys: Keys;
  commands: Commands;
  registry: Registry;
  handles: QueueHandles;
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
  onError: (error: Error) => void;
}

/** Most messages one batch (one Redis call) replays. */
const BATCH = 100;
/** The most a task may be asked to replay per second. */
export const MAX_REPLAY_RATE = 10_000;
/** How long a finished task's position key is kept (the record itself is kept until deleted). */
const POSITION_TTL_MS = 30 * DAY;

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
  };
}

type StreamEntry = [id: string, fields: string[]];

/**
 * Tracked replays of a topic's history into one of its queues (`replayTopic`), at a bounded rate.
 *
 * Each batch of messages is one `publish-commit` call holding the BullMQ adds, the task's `done`
 * count and its position (the stream id of the last message added), all in the topic's hash tag: a
 * batch is applied whole or not at all, so a task picked up again after a restart goes on from its
 * position and replays nothing twice. Each add's job id is derived from the task id and the stream
 * id (`replay-<task>-<stream id>`), so a call resent after a lost answer finds its first job and
 * writes nothing again. An instance runs a task under a lease it renews; every instance looks for
 * RUNNING tasks without one, so a task outlives the instance that started it. One task per queue
 * at a time: a second answers CONFLICT.
 */
export function createReplayTasks(options: ReplayTasksOptions) {
  const { client, keys, commands, registry, handles, onError } = options;
  const tk = keys.replayTasks;
  const leaseMs = options.leaseMs ?? 10 * SECOND;
  const instance = randomUUID();
  /** Tasks this instance runs now, by id, each with its loop's promise. */
  const running = new Map<string, Promise<void>>();
  let closed = false;
  let timer: NodeJS.Timeout | null = null;

  async function read(topic: string, id: string): Promise<ReplayTaskRecord | null> {
    return parseTask(id, await client.hgetall(tk.task(topic, id)));
  }

  async function get(id: string): Promise<ReplayTaskRecord | null> {
    const topic = await client.hget(tk.index, id);
    return topic === null ? null : read(topic, id);
  }

  async function list(): Promise<ReplayTaskRecord[]> {
    const index = await client.hgetall(tk.index);
    const tasks = await Promise.all(Object.entries(index).map(([id, topic]) => read(topic, id)));
    return tasks
      .filter((task): task is ReplayTaskRecord => task !== null)
      .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  /** Counts the history's entries in [from, to], in reads of 1000 ids. */
  async function count(key: string, from: number, to: number): Promise<number> {
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

  async function finish(
    task: ReplayTaskRecord,
    state: ReplayTaskState,
    error: string | null = null,
  ): Promise<void> {
    await client
      .multi()
      .hset(tk.task(task.topic, task.id), { state, finishedAt: Date.now(), error: error ?? '' })
      .pexpire(tk.position(task.topic, task.id), POSITION_TTL_MS)
      .del(tk.lease(task.topic, task.id))
      .exec();
    await commands.run<number>('release-claim-1', [tk.queueLock(task.topic, task.queue)], [task.id]);
  }

  async function holdLease(task: ReplayTaskRecord, take: boolean): Promise<boolean> {
    const key = tk.lease(task.topic, task.id);
    if (take) return (await client.set(key, instance, 'PX', leaseMs, 'NX')) === 'OK';
    if ((await client.get(key)) !== instance) return false;
    await client.pexpire(key, leaseMs);
    return true;
  }

  /** One batch: the adds, `done` and the position in one call. Answers how many it replayed (0: none left). */
  async function replayBatch(task: ReplayTaskRecord, queue: QueueRecord, size: number): Promise<number> {
    const position = await client.get(tk.position(task.topic, task.id));
    const start = position === null ? String(task.from) : `(${position}`;
    const entries = (await client.xrange(
      keys.topicHistory(task.topic),
      start,
      String(task.to),
      'COUNT',
      size,
    )) as StreamEntry[];
    const last = entries.at(-1);
    if (!last) return 0;
    const commit = new PublishCommit();
    const handle = handles.get(task.topic, task.queue);
    const now = Date.now();
    for (const [streamId, fields] of entries) {
      const json = fields[fields.indexOf('m') + 1] ?? '';
      const message = JSON.parse(json) as MessageRecord;
      const add = messageAdd(queue, message, Buffer.from(json), now);
      commit.add(handle, { ...add, jobId: `replay-${task.id}-${streamId}` });
    }
    commit.hincrby(tk.task(task.topic, task.id), 'done', entries.length);
    commit.set(tk.position(task.topic, task.id), last[0], POSITION_TTL_MS);
    const [refusal] = await commit.run((k, a) => commands.run('publish-commit-n', k, a), 1);
    if (refusal) throw new Error(`Replay batch refused: ${refusal}`);
    return entries.length;
  }

  async function run(first: ReplayTaskRecord): Promise<void> {
    const startedAt = Date.now();
    let replayedHere = 0;
    try {
      for (;;) {
        const task = await read(first.topic, first.id);
        if (closed || !task || task.state !== 'RUNNING') return;
        if (!(await holdLease(task, false))) return;
        const queue = await registry.getQueue(task.topic, task.queue);
        if (!queue) return finish(task, 'FAILED', `Queue ${task.queue} of topic ${task.topic} was deleted`);
        const size = task.ratePerSecond === null ? BATCH : Math.min(BATCH, task.ratePerSecond);
        const replayed = await replayBatch(task, queue, size);
        if (replayed === 0) return finish(task, 'DONE');
        replayedHere += replayed;
        if (task.ratePerSecond !== null) {
          // Paced from when this instance took the task: at most ratePerSecond on average.
          const due = startedAt + (replayedHere * SECOND) / task.ratePerSecond;
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
        }
      }
    } catch (error) {
      onError(error as Error);
      const task = await read(first.topic, first.id).catch(() => null);
      if (task?.state === 'RUNNING' && !closed)
        await finish(task, 'FAILED', (error as Error).message).catch(onError);
    } finally {
      if (closed) await client.del(tk.lease(first.topic, first.id)).catch(() => {});
      running.delete(first.id);
    }
  }

  /** Runs the task on this instance if no other holds it. */
  async function adopt(task: ReplayTaskRecord): Promise<void> {
    if (closed || running.has(task.id) || task.state !== 'RUNNING') return;
    if (!(await holdLease(task, true))) return;
    running.set(task.id, run(task));
  }

  async function resumeAll(): Promise<void> {
    for (const task of await list()) await adopt(task);
  }

  return {
    get,
    list,
    /** Creates a task (answered RUNNING, or DONE for a dry run) and starts it on this instance. */
    async replayTopic(input: ReplayTopicInput): Promise<ReplayTaskRecord> {
      assertName('topic', input.topic);
      assertName('queue', input.queue);
      const topic: TopicRecord | undefined = (await registry.table()).topic(input.topic);
      if (!topic) throw notFound(`Topic ${input.topic} does not exist`);
      if (!topic.history) {
        throw badInput(`Topic ${topic.name} keeps no history to replay`, { field: 'topic' });
      }
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
      const total = await count(keys.topicHistory(topic.name), from, to);
      const id = randomUUID();
      const task: ReplayTaskRecord = {
        id,
        topic: topic.name,
        queue: input.queue,
        from,
        to,
        toGiven: Boolean(input.to),
        ratePerSecond,
        dryRun,
        state: dryRun ? 'DONE' : 'RUNNING',
        total,
        done: 0,
        createdAt: now,
        finishedAt: dryRun ? now : null,
        error: null,
      };
      if (!dryRun) {
        const lock = tk.queueLock(topic.name, input.queue);
        if ((await client.set(lock, id, 'NX')) !== 'OK') {
          throw conflict(
            `Queue ${input.queue} of topic ${topic.name} has a replay task running: ${await client.get(lock)}`,
          );
        }
      }
      await client
        .multi()
        .hset(tk.task(topic.name, id), {
          topic: task.topic,
          queue: task.queue,
          from,
          to,
          toGiven: task.toGiven ? '1' : '0',
          ratePerSecond: ratePerSecond ?? '',
          dryRun: dryRun ? '1' : '0',
          state: task.state,
          total,
          done: 0,
          createdAt: now,
          finishedAt: task.finishedAt ?? '',
        })
        .hset(tk.index, id, topic.name)
        .exec();
      if (!dryRun) await adopt(task);
      return task;
    },
    /** Stops a running task (what was replayed stays replayed); NOT_FOUND when there is no such task. */
    async cancel(id: string): Promise<ReplayTaskRecord> {
      const task = await get(id);
      if (!task) throw notFound(`Replay task ${id} does not exist`);
      if (task.state === 'RUNNING') await finish(task, 'CANCELLED');
      await running.get(id);
      return (await get(id)) as ReplayTaskRecord;
    },
    /** Starts looking for RUNNING tasks no instance runs (at once, then every resumeEveryMs). */
    start(): void {
      if (closed || timer) return;
      const tick = () => void resumeAll().catch(onError);
      tick();
      timer = setInterval(tick, options.resumeEveryMs ?? 2 * SECOND);
      timer.unref();
    },
    /** Resolves once the tasks this instance runs are idle (for tests). */
    idle: async (): Promise<void> => {
      await Promise.all(running.values());
    },
    /** Stops this instance's tasks after their batch under way, releasing their leases. Idempotent. */
    async close(): Promise<void> {
      closed = true;
      if (timer) clearInterval(timer);
      timer = null;
      await Promise.all(running.values());
    },
  };
}

export type ReplayTasks = ReturnType<typeof createReplayTasks>;
