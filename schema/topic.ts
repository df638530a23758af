import type { TopicRecord } from '../queues/core/index.js';
import { createTopic } from '../resolvers/create-topic.js';
import { deleteTopic } from '../resolvers/delete-topic.js';
import { topic } from '../resolvers/topic.js';
import { topicHistoryInfo } from '../resolvers/topic-history-info.js';
import { topicQueues } from '../resolvers/topic-queues.js';
import { topics } from '../resolvers/topics.js';
import { builder } from './builder.js';
import { TopicKind } from './enums.js';
import { Queue } from './queue.js';

/** A topic's retained log (queues/history/). */
interface TopicHistoryShape {
  maxAgeMs: number | null;
  maxMessages: number | null;
  length: number;
  oldestAt: Date | null;
}

const TopicHistory = builder.objectRef<TopicHistoryShape>('TopicHistory').implement({
  description: "A topic's retained log of what was published (a Redis Stream, written with each publish).",
  fields: (t) => ({
    maxAgeMs: t.exposeInt('maxAgeMs', {
      nullable: true,
      description: 'How long a message is kept in the log, in ms; null: no age limit.',
    }),
    maxMessages: t.exposeInt('maxMessages', {
      nullable: true,
      description: 'How many messages the log keeps at most, the oldest dropped first; null: no count limit.',
    }),
    length: t.exposeInt('length', { description: 'Messages in the log now (none older than maxAgeMs).' }),
    oldestAt: t.expose('oldestAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the oldest message in the log was published; null when the log is empty.',
    }),
  }),
});

const TopicHistoryInput = builder.inputType('TopicHistoryInput', {
  description: "How much of a topic's publishes to keep: at least one of the two (BAD_USER_INPUT otherwise).",
  fields: (t) => ({
    maxAgeMs: t.int({
      description: 'Keep messages this long, in ms, 1 to 2073600000 (24 days); null: no age limit.',
    }),
    maxMessages: t.int({
      description:
        'Keep at most this many messages, 1 to 10000000, the oldest dropped first; null: no count limit.',
    }),
  }),
});

export const Topic = builder.objectRef<TopicRecord>('Topic').implement({
  description:
    'A named exchange that publishers send to; its queues receive what matches their binding. Readable by ' +
    'every key that may act on it (a topic scope matching its name, stats or admin).',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Unique; 1 to 128 of A-Z a-z 0-9 . _ -' }),
    kind: t.expose('kind', {
      type: TopicKind,
      description: 'How it routes messages to its queues; fixed at creation.',
    }),
    description: t.exposeString('description', {
      nullable: true,
      description: 'Free text for people, as given at creation; null when none was.',
    }),
    maxMessageBytes: t.exposeInt('maxMessageBytes', {
      description:
        'Largest payload accepted, in bytes of its canonical JSON; a larger publish is refused with PAYLOAD_TOO_LARGE.',
    }),
    payloadSchema: t.expose('payloadSchema', {
      type: 'JSON',
      nullable: true,
      description:
        'JSON Schema every payload must satisfy (a publish that fails it is refused with VALIDATION); null: any JSON.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the topic was created.' }),
    queues: t.field({
      type: [Queue],
      description: 'Its queues, ordered by name.',
      resolve: (parent, _args, ctx) => topicQueues(parent, ctx),
    }),
    history: t.field({
      type: TopicHistory,
      nullable: true,
      description: 'Its retained log of what was published; null when the topic keeps none.',
      resolve: (parent, _args, ctx) => topicHistoryInfo(parent, ctx),
    }),
  }),
});

const CreateTopicInput = builder.inputType('CreateTopicInput', {
  description: 'A new topic. Everything but name and kind is optional.',
  fields: (t) => ({
    name: t.string({
      required: true,
      description: 'Unique; 1 to 128 of A-Z a-z 0-9 . _ - (CONFLICT when taken).',
    }),
    kind: t.field({
      type: TopicKind,
      required: true,
      description: 'How it routes messages; fixed once created.',
    }),
    description: t.string({ description: 'Free text for people, at most 1024 characters.' }),
    maxMessageBytes: t.int({
      description:
        "Largest canonical JSON payload accepted, in bytes, 1 to 64 MiB (67108864). Default: the gateway's " +
        'SWITCHYARD_MAX_MESSAGE_BYTES, 1 MiB unless set.',
    }),
    payloadSchema: t.field({
      type: 'JSON',
      description:
        'A JSON Schema every payload must satisfy; a publish that fails it is refused with VALIDATION.',
    }),
    history: t.field({
      type: TopicHistoryInput,
      description:
        'Keep a history of what is published (Query.topicHistory, Subscription.messages with after or from); ' +
        'fixed at creation. None: no history.',
    }),
  }),
});

// Topology is readable by every key, limited to the topics it can see (resolvers/caller-scopes.ts).
builder.queryFields((t) => ({
  topics: t.withAuth({ caller: true }).field({
    type: [Topic],
    description:
      'The topics this key can act on in some way, ordered by name (every topic for admin and stats keys). Any key.',
    resolve: (_root, args, ctx) => topics(args, ctx),
  }),
  topic: t.withAuth({ caller: true }).field({
    type: Topic,
    nullable: true,
    description: 'Null when there is no such topic, or this key cannot see it. Any key.',
    args: { name: t.arg.string({ required: true, description: 'The topic name.' }) },
    resolve: (_root, args, ctx) => topic(args, ctx),
  }),
}));

builder.mutationFields((t) => ({
  createTopic: t.withAuth({ admin: true }).field({
    type: Topic,
    description: 'Admin only. Answers the new topic; CONFLICT when the name is taken.',
    args: { input: t.arg({ type: CreateTopicInput, required: true, description: 'The topic to create.' }) },
    resolve: (_root, args, ctx) => createTopic(args, ctx),
  }),
  deleteTopic: t.withAuth({ admin: true }).boolean({
    description:
      'Admin only. True once deleted; NOT_FOUND when there is no such topic, CONFLICT while it still has queues.',
    args: { name: t.arg.string({ required: true, description: 'The topic name.' }) },
    resolve: (_root, args, ctx) => deleteTopic(args, ctx),
  }),
}));
