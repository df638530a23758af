import type { TopicRecord } from '../queues/types.js';
import { createTopic } from '../resolvers/create-topic.js';
import { deleteTopic } from '../resolvers/delete-topic.js';
import { withoutUnbuilt } from '../resolvers/not-built.js';
import { topic } from '../resolvers/topic.js';
import { topicQueues } from '../resolvers/topic-queues.js';
import { topics } from '../resolvers/topics.js';
import { builder } from './builder.js';
import { TopicKind } from './enums.js';
import { Queue } from './queue.js';

/** A topic's retained log; no topic keeps one until topic history is built. */
interface TopicHistoryShape {
  maxAgeMs: number | null;
  maxMessages: number | null;
  length: number;
  oldestAt: Date | null;
}

const TopicHistory = builder.objectRef<TopicHistoryShape>('TopicHistory').implement({
  description: "A topic's retained log of what was published. Not built yet: no topic keeps one.",
  fields: (t) => ({
    maxAgeMs: t.exposeInt('maxAgeMs', { nullable: true }),
    maxMessages: t.exposeInt('maxMessages', { nullable: true }),
    length: t.exposeInt('length'),
    oldestAt: t.expose('oldestAt', { type: 'DateTime', nullable: true }),
  }),
});

const TopicHistoryInput = builder.inputType('TopicHistoryInput', {
  fields: (t) => ({
    maxAgeMs: t.int(),
    maxMessages: t.int(),
  }),
});

export const Topic = builder.objectRef<TopicRecord>('Topic').implement({
  description: 'A named exchange that publishers send to; its queues receive what matches their binding.',
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.expose('kind', { type: TopicKind }),
    description: t.exposeString('description', { nullable: true }),
    maxMessageBytes: t.exposeInt('maxMessageBytes'),
    payloadSchema: t.expose('payloadSchema', {
      type: 'JSON',
      nullable: true,
      description: 'JSON Schema; a publish that fails it is refused with VALIDATION.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    queues: t.field({ type: [Queue], resolve: (parent, _args, ctx) => topicQueues(parent, ctx) }),
    // True today: nothing can give a topic a history yet (CreateTopicInput.history is refused).
    history: t.field({
      type: TopicHistory,
      nullable: true,
      description: 'Null when the topic keeps no history, which is every topic until history is built.',
      resolve: () => null,
    }),
  }),
});

const CreateTopicInput = builder.inputType('CreateTopicInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: '[A-Za-z0-9._-]{1,128}' }),
    kind: t.field({ type: TopicKind, required: true }),
    description: t.string(),
    maxMessageBytes: t.int({ description: 'Largest canonical JSON payload accepted; default 1 MiB.' }),
    payloadSchema: t.field({ type: 'JSON', description: 'A JSON Schema every payload must satisfy.' }),
    history: t.field({
      type: TopicHistoryInput,
      description: 'Not built yet: a createTopic that sets it is refused with UNAVAILABLE.',
    }),
  }),
});

// Topology is readable by every key, limited to the topics it can see (resolvers/caller-scopes.ts).
builder.queryFields((t) => ({
  topics: t.withAuth({ caller: true }).field({
    type: [Topic],
    description: 'The topics this key can act on in some way (every topic for admin and stats keys).',
    resolve: (_root, args, ctx) => topics(args, ctx),
  }),
  topic: t.withAuth({ caller: true }).field({
    type: Topic,
    nullable: true,
    description: 'Null when there is no such topic, or this key cannot see it.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => topic(args, ctx),
  }),
}));

builder.mutationFields((t) => ({
  createTopic: t.withAuth({ admin: true }).field({
    type: Topic,
    args: { input: t.arg({ type: CreateTopicInput, required: true }) },
    resolve: (_root, args, ctx) =>
      createTopic({ input: withoutUnbuilt('CreateTopicInput', args.input, ['history']) }, ctx),
  }),
  deleteTopic: t.withAuth({ admin: true }).boolean({
    description: 'Refused with CONFLICT while the topic still has queues.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => deleteTopic(args, ctx),
  }),
}));
