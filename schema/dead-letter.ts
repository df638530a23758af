import type { AttemptRecord as AttemptRecordShape } from '../queues/core/index.js';
import type {
  DeadLetterPage,
  DeadLetterRecord,
  ReplayResult as ReplayResultRecord,
} from '../queues/dead-letters/index.js';
import { parseDeadLetterId } from '../queues/dead-letters/index.js';
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
  description: 'One failed delivery attempt of a dead letter.',
  fields: (t) => ({
    attempt: t.exposeInt('attempt', { description: 'Which attempt it was, 1 for the first.' }),
    at: t.expose('at', { type: 'DateTime', description: 'When it failed.' }),
    reason: t.expose('reason', { type: FailureReason, description: 'Why it failed.' }),
    error: t.exposeString('error', { description: 'What went wrong, header values redacted.' }),
    durationMs: t.exposeInt('durationMs', {
      nullable: true,
      description: 'How long the webhook request took, in ms; null for consumer nacks and expiries.',
    }),
  }),
});

const DeadLetter = builder.objectRef<DeadLetterRecord>('DeadLetter').implement({
  description: 'A message whose delivery failed for good; it stays in its BullMQ queue’s failed set.',
  fields: (t) => ({
    id: t.exposeID('id', { description: '<topic>/<queue>/<message id>.' }),
    message: t.expose('message', { type: Message, description: 'The message, as it was published.' }),
    topic: t.exposeString('topic', { description: 'The topic of its queue.' }),
    queue: t.exposeString('queue', { description: 'The queue it failed in.' }),
    reason: t.expose('reason', { type: FailureReason, description: 'Why its last attempt failed.' }),
    error: t.exposeString('error', { description: 'The last error, header values redacted.' }),
    attempts: t.exposeInt('attempts', { description: 'Attempts since the message was last replayed.' }),
    history: t.expose('history', {
      type: [AttemptRecord],
      description: 'Every attempt, earlier rounds before a replay included, oldest first.',
    }),
    failedAt: t.expose('failedAt', {
      type: 'DateTime',
      description:
        'When it failed for good. It is kept SWITCHYARD_DEAD_LETTER_RETENTION_MS from then (default 14 days).',
    }),
    replayCount: t.exposeInt('replayCount', { description: 'How often the message was replayed.' }),
  }),
});

const DeadLetterEdge = builder.objectRef<DeadLetterPage['edges'][number]>('DeadLetterEdge').implement({
  description: 'A dead letter and its place in the list.',
  fields: (t) => ({
    cursor: t.exposeString('cursor', {
      description: 'Opaque; pass it as `after` for the dead letters after this one.',
    }),
    node: t.expose('node', { type: DeadLetter, description: 'The dead letter.' }),
  }),
});

const DeadLetterConnection = builder.objectRef<DeadLetterPage>('DeadLetterConnection').implement({
  description: 'A page of dead letters, newest first (Relay cursor connection).',
  fields: (t) => ({
    edges: t.expose('edges', {
      type: [DeadLetterEdge],
      description: 'The dead letters of this page, newest first.',
    }),
    pageInfo: t.expose('pageInfo', {
      type: PageInfo,
      description: 'Cursors, and whether pages come before and after.',
    }),
    totalCount: t.int({
      description: 'Every dead letter the filter selects, whatever the cursor. Counted only when asked for.',
      resolve: (page) => page.totalCount(),
    }),
  }),
});

const ReplayResult = builder.objectRef<ReplayResultRecord>('ReplayResult').implement({
  description: 'What a replay put back into delivery.',
  fields: (t) => ({
    replayed: t.exposeInt('replayed', {
      description: 'Dead letters put back into their queue (or toQueue).',
    }),
    failed: t.exposeInt('failed', {
      description: 'Selected but gone (replayed, discarded or retried elsewhere) by the time it ran.',
    }),
    ids: t.exposeIDList('ids', { description: 'The ids of the dead letters replayed.' }),
    probedQueues: t.stringList({
      description:
        'WEBHOOK queues replayed into whose circuit breaker was OPEN: instead of waiting out the cool-down, ' +
        'their first replayed message goes out at once as the probe, and the rest follow once it succeeds.',
      resolve: (result) => result.probedQueues ?? [],
    }),
  }),
});

const DeadLetterFilter = builder.inputType('DeadLetterFilter', {
  description: 'Which dead letters to select; every field given narrows, none selects all.',
  fields: (t) => ({
    topic: t.string({
      description:
        'Only this topic (NOT_FOUND when it does not exist). Without it the selection spans every topic, which needs the # pattern of the scope.',
    }),
    queue: t.string({ description: 'Only queues of this name (NOT_FOUND when no such queue exists).' }),
    reason: t.field({
      type: FailureReason,
      description: 'Only those whose last attempt failed for this reason.',
    }),
    from: t.field({ type: 'DateTime', description: 'Failed at or after.' }),
    to: t.field({ type: 'DateTime', description: 'Failed at or before.' }),
    search: t.string({
      description:
        'Case-insensitive substring of the last error or of the message id; at most 256 characters.',
    }),
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
    description:
      'Newest first. A cursor keeps its place while newer dead letters arrive. Needs deadletters:read:<pattern> ' +
      'matching filter.topic, or deadletters:read:# without one (or admin).',
    args: {
      filter: t.arg({ type: DeadLetterFilter, description: 'Which dead letters; default all.' }),
      first: t.arg.int({ defaultValue: 50, description: 'Page size, 0 to 1000.' }),
      after: t.arg.string({
        description:
          'A cursor from an earlier page (pageInfo.endCursor or an edge cursor): answer what comes after it.',
      }),
    },
    authScopes: (_root, args) => ({ 'deadletters:read': args.filter?.topic ?? EVERY_TOPIC }),
    resolve: (_root, args, ctx) => deadLetters(args, ctx),
  }),
  deadLetter: t.field({
    type: DeadLetter,
    nullable: true,
    description:
      'One dead letter; null when there is none (any more). Needs deadletters:read:<pattern> matching the topic in the id (or admin).',
    args: { id: t.arg.id({ required: true, description: 'DeadLetter.id: <topic>/<queue>/<message id>.' }) },
    authScopes: (_root, args) => ({ 'deadletters:read': topicOfDeadLetter(args.id) }),
    resolve: (_root, args, ctx) => deadLetter({ id: String(args.id) }, ctx),
  }),
}));

builder.mutationFields((t) => ({
  replayDeadLetter: t.field({
    type: ReplayResult,
    description:
      'Puts one dead letter back into delivery: same message id, fresh attempt count. An edited payload is ' +
      'checked like a publish. NOT_FOUND when it is gone. Needs deadletters:write:<pattern> matching the topic in the id (or admin).',
    args: {
      id: t.arg.id({ required: true, description: 'DeadLetter.id: <topic>/<queue>/<message id>.' }),
      payload: t.arg({
        type: 'JSON',
        description:
          "A corrected payload to deliver instead; checked against the topic's size limit and schema.",
      }),
      toQueue: t.arg.string({
        description: 'Another queue of the same topic to deliver to; default: the queue it failed in.',
      }),
    },
    // toQueue is a queue of the same topic (the engine looks it up there), so one topic covers both.
    authScopes: (_root, args) => ({ 'deadletters:write': topicOfDeadLetter(args.id) }),
    resolve: (_root, args, ctx) => replayDeadLetter({ ...args, id: String(args.id) }, ctx),
  }),
  replayDeadLetters: t.field({
    type: ReplayResult,
    description:
      'Replays every dead letter the filter selects, newest first, up to limit. Needs deadletters:write:<pattern> ' +
      'matching filter.topic, or deadletters:write:# without one (or admin).',
    args: {
      filter: t.arg({
        type: DeadLetterFilter,
        required: true,
        description: 'Which dead letters; {} selects all.',
      }),
      limit: t.arg.int({ defaultValue: 1000, description: 'Most dead letters to replay, 1 to 100000.' }),
    },
    authScopes: (_root, args) => ({ 'deadletters:write': args.filter.topic ?? EVERY_TOPIC }),
    resolve: (_root, args, ctx) => replayDeadLetters(args, ctx),
  }),
  discardDeadLetter: t.boolean({
    description:
      'Removes one dead letter for good and answers true; NOT_FOUND when it is already gone. Needs ' +
      'deadletters:write:<pattern> matching the topic in the id (or admin).',
    args: { id: t.arg.id({ required: true, description: 'DeadLetter.id: <topic>/<queue>/<message id>.' }) },
    authScopes: (_root, args) => ({ 'deadletters:write': topicOfDeadLetter(args.id) }),
    resolve: (_root, args, ctx) => discardDeadLetter({ id: String(args.id) }, ctx),
  }),
  discardDeadLetters: t.int({
    description:
      'Removes every dead letter the filter selects, for good, and answers how many. Needs ' +
      'deadletters:write:<pattern> matching filter.topic, or deadletters:write:# without one (or admin).',
    args: {
      filter: t.arg({
        type: DeadLetterFilter,
        required: true,
        description: 'Which dead letters; {} selects all.',
      }),
    },
    authScopes: (_root, args) => ({ 'deadletters:write': args.filter.topic ?? EVERY_TOPIC }),
    resolve: (_root, args, ctx) => discardDeadLetters(args, ctx),
  }),
}));
