import type { ReplayTaskRecord, ReplayTopicInput } from '../queues/history/index.js';
import { callerName } from './caller-scopes.js';
import type { Context } from './context.js';

/** A replay task as the schema's ReplayTask answers it. */
export const replayTaskShape = (task: ReplayTaskRecord) => ({
  id: task.id,
  topic: task.topic,
  queue: task.queue,
  from: new Date(task.from),
  to: task.toGiven ? new Date(task.to) : null,
  ratePerSecond: task.ratePerSecond,
  dryRun: task.dryRun,
  state: task.state,
  total: task.total,
  done: task.done,
  createdAt: new Date(task.createdAt),
  finishedAt: task.finishedAt === null ? null : new Date(task.finishedAt),
});

export const replayTopic = async (args: Omit<ReplayTopicInput, 'by'>, ctx: Context) =>
  replayTaskShape(await ctx.engine.replayTopic({ ...args, by: callerName(ctx) }));

export const replayTask = async (args: { id: string }, ctx: Context) => {
  const task = await ctx.engine.replayTask(args.id);
  return task && replayTaskShape(task);
};

export const replayTasks = async (ctx: Context) => (await ctx.engine.replayTasks()).map(replayTaskShape);

export const cancelReplayTask = async (args: { id: string }, ctx: Context) =>
  replayTaskShape(await ctx.engine.cancelReplayTask(args.id));
