import type { MessageRecord } from '../queues/types.js';
import { notBuilt } from '../resolvers/not-built.js';
import { builder } from './builder.js';
import { Message } from './message.js';
import { PageInfo, type PageInfoShape } from './page-info.js';

// Topic history and replay tasks (the contract's second wave). Not built yet: every operation here answers
// UNAVAILABLE after its scope check, and changes nothing.

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
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    node: t.expose('node', { type: Message }),
  }),
});

const MessageConnection = builder.objectRef<MessageConnectionShape>('MessageConnection').implement({
  description:
    "A page of a topic's history, oldest first. Not built yet: Query.topicHistory answers UNAVAILABLE.",
  fields: (t) => ({
    edges: t.expose('edges', { type: [MessageEdge] }),
    pageInfo: t.expose('pageInfo', { type: PageInfo }),
  }),
});

const ReplayTaskState = builder.enumType('ReplayTaskState', { values: REPLAY_TASK_STATES });

const ReplayTask = builder.objectRef<ReplayTaskShape>('ReplayTask').implement({
  description: "A tracked replay of a topic's history into a queue. Not built yet: no task exists.",
  fields: (t) => ({
    id: t.exposeID('id'),
    topic: t.exposeString('topic'),
    queue: t.exposeString('queue'),
    from: t.expose('from', { type: 'DateTime' }),
    to: t.expose('to', { type: 'DateTime', nullable: true }),
    ratePerSecond: t.exposeInt('ratePerSecond', { nullable: true }),
    dryRun: t.exposeBoolean('dryRun'),
    state: t.expose('state', { type: ReplayTaskState }),
    total: t.exposeInt('total'),
    done: t.exposeInt('done'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryFields((t) => ({
  // A topic's past messages are read like its live tail: the subscribe scope of the topic.
  topicHistory: t.field({
    type: MessageConnection,
    description: "A topic's retained history, oldest first. Not built yet: answers UNAVAILABLE.",
    args: {
      topic: t.arg.string({ required: true }),
      from: t.arg({ type: 'DateTime' }),
      after: t.arg.string(),
      first: t.arg.int({ defaultValue: 100 }),
    },
    authScopes: (_root, args) => ({ subscribe: args.topic }),
    resolve: () => notBuilt('Query.topicHistory'),
  }),
  message: t.field({
    type: Message,
    nullable: true,
    description:
      'One message, from history, a queue or the dead letters. Not built yet: answers UNAVAILABLE.',
    args: { topic: t.arg.string({ required: true }), id: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({ subscribe: args.topic }),
    resolve: () => notBuilt('Query.message'),
  }),
  // Replay tasks are an operator's view, like alerts and counters: the stats scope reads them.
  replayTask: t.withAuth({ stats: true }).field({
    type: ReplayTask,
    nullable: true,
    description: 'Not built yet: answers UNAVAILABLE.',
    args: { id: t.arg.id({ required: true }) },
    resolve: () => notBuilt('Query.replayTask'),
  }),
  replayTasks: t.withAuth({ stats: true }).field({
    type: [ReplayTask],
    description: 'Not built yet: answers UNAVAILABLE.',
    resolve: () => notBuilt('Query.replayTasks'),
  }),
}));

builder.mutationFields((t) => ({
  replayTopic: t.withAuth({ admin: true }).field({
    type: ReplayTask,
    description:
      "Admin only. Replays a span of a topic's history into one of its queues. Not built yet: answers UNAVAILABLE.",
    args: {
      topic: t.arg.string({ required: true }),
      queue: t.arg.string({ required: true }),
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime' }),
      ratePerSecond: t.arg.int(),
      dryRun: t.arg.boolean({ defaultValue: false }),
    },
    resolve: () => notBuilt('Mutation.replayTopic'),
  }),
  cancelReplayTask: t.withAuth({ admin: true }).field({
    type: ReplayTask,
    description: 'Admin only. Not built yet: answers UNAVAILABLE.',
    args: { id: t.arg.id({ required: true }) },
    resolve: () => notBuilt('Mutation.cancelReplayTask'),
  }),
}));
