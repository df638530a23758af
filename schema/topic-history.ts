import type { MessageRecord } from '../queues/core/index.js';
import { message } from '../resolvers/message.js';
import { cancelReplayTask, replayTask, replayTasks, replayTopic } from '../resolvers/replay-topic.js';
import { topicHistory } from '../resolvers/topic-history.js';
import { builder } from './builder.js';
import { describeValues } from './enums.js';
import { Message } from './message.js';
import { PageInfo, type PageInfoShape } from './page-info.js';

// Topic history and replay tasks (docs/HISTORY.md).

interface MessageEdgeShape {
  cursor: string;
  node: MessageRecord;
}

interface MessageConnectionShape {
  edges: MessageEdgeShape[];
  pageInfo: PageInfoShape;
}

const REPLAY_TASK_STATES = ['RUNNING', 'DONE', 'CANCELLED', 'FAILED'] as const;

interface ReplayTaskShape {
  id: string;
  topic: string;
  queue: string;
  from: Date;
  to: Date | null;
  ratePerSecond: number | null;
  dryRun: boolean;
  state: (typeof REPLAY_TASK_STATES)[number];
  total: number;
  done: number;
  createdAt: Date;
  finishedAt: Date | null;
}

const MessageEdge = builder.objectRef<MessageEdgeShape>('MessageEdge').implement({
  description: "A message of a topic's history and its place in it.",
  fields: (t) => ({
    cursor: t.exposeString('cursor', {
      description: "Its place in the topic's history; pass it as `after`.",
    }),
    node: t.expose('node', { type: Message, description: 'The message.' }),
  }),
});

const MessageConnection = builder.objectRef<MessageConnectionShape>('MessageConnection').implement({
  description: "A page of a topic's history, oldest first.",
  fields: (t) => ({
    edges: t.expose('edges', {
      type: [MessageEdge],
      description: 'The messages of this page, oldest first.',
    }),
    pageInfo: t.expose('pageInfo', {
      type: PageInfo,
      description: 'Cursors, and whether pages come before and after.',
    }),
  }),
});

const ReplayTaskState = builder.enumType('ReplayTaskState', {
  description: 'Where a replay task stands.',
  values: describeValues(REPLAY_TASK_STATES, {
    RUNNING: 'Replaying now.',
    DONE: 'Every message of the range was replayed (or counted, on a dry run).',
    CANCELLED: 'Stopped by cancelReplayTask; what was replayed stays replayed.',
    FAILED: 'Stopped by an error.',
  }),
});

const ReplayTask = builder.objectRef<ReplayTaskShape>('ReplayTask').implement({
  description:
    "A tracked replay of a topic's history into a queue, at a bounded rate; it survives a gateway restart and " +
    'replays nothing twice.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'What replayTask and cancelReplayTask take.' }),
    topic: t.exposeString('topic', { description: 'The topic whose history is replayed.' }),
    queue: t.exposeString('queue', { description: 'The queue of that topic it is replayed into.' }),
    from: t.expose('from', {
      type: 'DateTime',
      description: 'Start of the range: messages published at or after it.',
    }),
    to: t.expose('to', {
      type: 'DateTime',
      nullable: true,
      description: 'End of the range; null: up to when the task was created.',
    }),
    ratePerSecond: t.exposeInt('ratePerSecond', {
      nullable: true,
      description: 'Most messages replayed per second; null: no limit.',
    }),
    dryRun: t.exposeBoolean('dryRun', { description: 'True: counts the range without replaying anything.' }),
    state: t.expose('state', { type: ReplayTaskState, description: 'Where it stands.' }),
    total: t.exposeInt('total', { description: 'Messages in the range.' }),
    done: t.exposeInt('done', { description: 'Messages replayed so far (0 on a dry run).' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When replayTopic created it.' }),
    finishedAt: t.expose('finishedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it stopped (DONE, CANCELLED or FAILED); null while RUNNING.',
    }),
  }),
});

builder.queryFields((t) => ({
  // A topic's past messages are read like its live tail: the subscribe scope of the topic.
  topicHistory: t.field({
    type: MessageConnection,
    description:
      "A topic's retained history, oldest first (BAD_USER_INPUT for a topic that keeps none; give from or " +
      'after, not both). Needs subscribe:<pattern> matching the topic (or admin).',
    args: {
      topic: t.arg.string({ required: true, description: 'The topic name.' }),
      from: t.arg({
        type: 'DateTime',
        description: 'Start with the messages published at or after this time.',
      }),
      after: t.arg.string({ description: 'Start after this cursor (Message.cursor or an edge cursor).' }),
      first: t.arg.int({ defaultValue: 100, description: 'Page size, 1 to 1000.' }),
    },
    authScopes: (_root, args) => ({ subscribe: args.topic }),
    resolve: (_root, args, ctx) => topicHistory(args, ctx),
  }),
  message: t.field({
    type: Message,
    nullable: true,
    description:
      'One message, from history, a queue or the dead letters; null when gone. Needs subscribe:<pattern> ' +
      'matching the topic (or admin). Found in the history through its index by id (docs/HISTORY.md).',
    args: {
      topic: t.arg.string({ required: true, description: 'The topic name.' }),
      id: t.arg.id({ required: true, description: 'Message.id.' }),
    },
    authScopes: (_root, args) => ({ subscribe: args.topic }),
    resolve: (_root, args, ctx) => message(args, ctx),
  }),
  // Replay tasks are an operator's view, like alerts and counters: the stats scope reads them.
  replayTask: t.withAuth({ stats: true }).field({
    type: ReplayTask,
    nullable: true,
    description: 'One replay task; null when there is none. Needs the stats scope (or admin).',
    args: { id: t.arg.id({ required: true, description: 'ReplayTask.id.' }) },
    resolve: (_root, args, ctx) => replayTask(args, ctx),
  }),
  replayTasks: t.withAuth({ stats: true }).field({
    type: [ReplayTask],
    description: 'Every replay task, oldest first. Needs the stats scope (or admin).',
    resolve: (_root, _args, ctx) => replayTasks(ctx),
  }),
}));

builder.mutationFields((t) => ({
  replayTopic: t.withAuth({ admin: true }).field({
    type: ReplayTask,
    description:
      "Admin only. Replays a span of a topic's history into one of its queues, as a tracked task: " +
      'BAD_USER_INPUT for a topic without history, NOT_FOUND for a missing queue, CONFLICT while the queue ' +
      'has a task running.',
    args: {
      topic: t.arg.string({ required: true, description: 'The topic whose history to replay.' }),
      queue: t.arg.string({ required: true, description: 'A queue of that topic to replay into.' }),
      from: t.arg({
        type: 'DateTime',
        required: true,
        description: 'Replay messages published at or after this.',
      }),
      to: t.arg({ type: 'DateTime', description: 'And at or before this; default: now.' }),
      ratePerSecond: t.arg.int({ description: 'Most messages per second, 1 to 10000; default: no limit.' }),
      dryRun: t.arg.boolean({ defaultValue: false, description: 'True: count the range, replay nothing.' }),
    },
    resolve: (_root, args, ctx) => replayTopic(args, ctx),
  }),
  cancelReplayTask: t.withAuth({ admin: true }).field({
    type: ReplayTask,
    description:
      'Admin only. Stops a running replay task after its batch under way (what was replayed stays ' +
      'replayed); answers it; NOT_FOUND when there is none.',
    args: { id: t.arg.id({ required: true, description: 'ReplayTask.id.' }) },
    resolve: (_root, args, ctx) => cancelReplayTask(args, ctx),
  }),
}));
