import { parseDeadLetterId } from '../queues/dead-letter-ids.js';
import type {
  DeadLetterPage,
  DeadLetterRecord,
  ReplayResult as ReplayResultRecord,
} from '../queues/dead-letters.js';
import type { AttemptRecord as AttemptRecordShape } from '../queues/types.js';
import { deadLetter } from '../resolvers/dead-letter.js';
import { deadLetters } from '../resolvers/dead-letters.js';
import { discardDeadLetter } from '../resolvers/discard-dead-letter.js';
import { discardDeadLetters } from '../resolvers/discard-dead-letters.js';
import { replayDeadLetter } from '../resolvers/replay-dead-letter.js';
import { replayDeadLetters } from '../resolvers/replay-dead-letters.js';
import { EVERY_TOPIC } from './auth-scopes.js';
import { builder } from './builder.js';
import { FailureReason } from './enums.js';
import { Message } from './message.js';
import { PageInfo } from './page-info.js';

const AttemptRecord = builder.objectRef<AttemptRecordShape>('AttemptRecord').implement({
  fields: (t) => ({
    attempt: t.exposeInt('attempt'),
    at: t.expose('at', { type: 'DateTime' }),
    reason: t.expose('reason', { type: FailureReason }),
    error: t.exposeString('error'),
    durationMs: t.exposeInt('durationMs', { nullable: true }),
  }),
});

const DeadLetter = builder.objectRef<DeadLetterRecord>('DeadLetter').implement({
  description: 'A message whose delivery failed for good; it stays in its BullMQ queue’s failed set.',
  fields: (t) => ({
    id: t.exposeID('id', { description: '<topic>/<queue>/<message id>.' }),
    message: t.expose('message', { type: Message }),
    topic: t.exposeString('topic'),
    queue: t.exposeString('queue'),
    reason: t.expose('reason', { type: FailureReason }),
    error: t.exposeString('error', { description: 'The last error, header values redacted.' }),
    attempts: t.exposeInt('attempts', { description: 'Attempts since the message was last replayed.' }),
    history: t.expose('history', {
      type: [AttemptRecord],
      description: 'Every attempt, earlier rounds before a replay included, oldest first.',
    }),
    failedAt: t.expose('failedAt', { type: 'DateTime' }),
    replayCount: t.exposeInt('replayCount', { description: 'How often the message was replayed.' }),
  }),
});

const DeadLetterEdge = builder.objectRef<DeadLetterPage['edges'][number]>('DeadLetterEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    node: t.expose('node', { type: DeadLetter }),
  }),
});

const DeadLetterConnection = builder.objectRef<DeadLetterPage>('DeadLetterConnection').implement({
  fields: (t) => ({
    edges: t.expose('edges', { type: [DeadLetterEdge] }),
    pageInfo: t.expose('pageInfo', { type: PageInfo }),
    totalCount: t.int({
      description: 'Every dead letter the filter selects, whatever the cursor. Counted only when asked for.',
      resolve: (page) => page.totalCount(),
    }),
  }),
});

const ReplayResult = builder.objectRef<ReplayResultRecord>('ReplayResult').implement({
  fields: (t) => ({
    replayed: t.exposeInt('replayed'),
    failed: t.exposeInt('failed', {
      description: 'Selected but gone (replayed, discarded or retried elsewhere) by the time it ran.',
    }),
    ids: t.exposeIDList('ids', { description: 'The ids of the dead letters replayed.' }),
  }),
});

const DeadLetterFilter = builder.inputType('DeadLetterFilter', {
  fields: (t) => ({
    topic: t.string(),
    queue: t.string(),
    reason: t.field({ type: FailureReason }),
    from: t.field({ type: 'DateTime', description: 'Failed at or after.' }),
    to: t.field({ type: 'DateTime', description: 'Failed at or before.' }),
    search: t.string({ description: 'Substring of the error or the message id.' }),
  }),
});

/**
 * The topic a dead-letter id names, which is the topic the engine acts on. A malformed id is refused
 * here with the engine's own BAD_USER_INPUT: it names no topic to check.
 */
const topicOfDeadLetter = (id: string | number) => parseDeadLetterId(String(id)).topic;

// A filter without a topic reaches every topic's dead letters, so it needs the pattern # (or admin).
builder.queryFields((t) => ({
  deadLetters: t.field({
    type: DeadLetterConnection,
    description: 'Newest first. A cursor keeps its place while newer dead letters arrive.',
    args: {
      filter: t.arg({ type: DeadLetterFilter }),
      first: t.arg.int({ defaultValue: 50 }),
      after: t.arg.string(),
    },
    authScopes: (_root, args) => ({ 'deadletters:read': args.filter?.topic ?? EVERY_TOPIC }),
    resolve: (_root, args, ctx) => deadLetters(args, ctx),
  }),
  deadLetter: t.field({
    type: DeadLetter,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({ 'deadletters:read': topicOfDeadLetter(args.id) }),
    resolve: (_root, args, ctx) => deadLetter({ id: String(args.id) }, ctx),
  }),
}));

builder.mutationFields((t) => ({
  replayDeadLetter: t.field({
    type: ReplayResult,
    description: 'Same message id, fresh attempt count. An edited payload is checked like a publish.',
    args: {
      id: t.arg.id({ required: true }),
      payload: t.arg({ type: 'JSON' }),
      toQueue: t.arg.string(),
    },
    // toQueue is a queue of the same topic (the engine looks it up there), so one topic covers both.
    authScopes: (_root, args) => ({ 'deadletters:write': topicOfDeadLetter(args.id) }),
    resolve: (_root, args, ctx) => replayDeadLetter({ ...args, id: String(args.id) }, ctx),
  }),
  replayDeadLetters: t.field({
    type: ReplayResult,
    description: 'Newest first, up to limit (at most 100000).',
    args: {
      filter: t.arg({ type: DeadLetterFilter, required: true }),
      limit: t.arg.int({ defaultValue: 1000 }),
    },
    authScopes: (_root, args) => ({ 'deadletters:write': args.filter.topic ?? EVERY_TOPIC }),
    resolve: (_root, args, ctx) => replayDeadLetters(args, ctx),
  }),
  discardDeadLetter: t.boolean({
    args: { id: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({ 'deadletters:write': topicOfDeadLetter(args.id) }),
    resolve: (_root, args, ctx) => discardDeadLetter({ id: String(args.id) }, ctx),
  }),
  discardDeadLetters: t.int({
    description: 'Answers how many were discarded.',
    args: { filter: t.arg({ type: DeadLetterFilter, required: true }) },
    authScopes: (_root, args) => ({ 'deadletters:write': args.filter.topic ?? EVERY_TOPIC }),
    resolve: (_root, args, ctx) => discardDeadLetters(args, ctx),
  }),
}));
