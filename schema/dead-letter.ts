import type {
  AttemptRecord as AttemptRecordShape,
  FailureReason as FailureReasonValue,
  MessageRecord,
} from '../queues/types.js';
import { notImplemented } from '../resolvers/not-implemented.js';
import { builder } from './builder.js';
import { FailureReason } from './enums.js';
import { Message } from './message.js';

// The dead-letter issue brings the engine side (queues/dead-letters.ts); until then these shapes say
// what its records must hold for the contract's types.
interface DeadLetterShape {
  id: string;
  message: MessageRecord;
  topic: string;
  queue: string;
  reason: FailureReasonValue;
  error: string;
  attempts: number;
  history: AttemptRecordShape[];
  failedAt: string;
}

interface DeadLetterPage {
  edges: { cursor: string; node: DeadLetterShape }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

interface ReplayResultShape {
  replayed: number;
  failed: number;
  ids: string[];
}

const AttemptRecord = builder.objectRef<AttemptRecordShape>('AttemptRecord').implement({
  fields: (t) => ({
    attempt: t.exposeInt('attempt'),
    at: t.expose('at', { type: 'DateTime' }),
    reason: t.expose('reason', { type: FailureReason }),
    error: t.exposeString('error'),
    durationMs: t.exposeInt('durationMs', { nullable: true }),
  }),
});

const DeadLetter = builder.objectRef<DeadLetterShape>('DeadLetter').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    message: t.expose('message', { type: Message }),
    topic: t.exposeString('topic'),
    queue: t.exposeString('queue'),
    reason: t.expose('reason', { type: FailureReason }),
    error: t.exposeString('error'),
    attempts: t.exposeInt('attempts'),
    history: t.expose('history', { type: [AttemptRecord] }),
    failedAt: t.expose('failedAt', { type: 'DateTime' }),
  }),
});

const PageInfo = builder.objectRef<DeadLetterPage['pageInfo']>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
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
    totalCount: t.exposeInt('totalCount'),
  }),
});

const ReplayResult = builder.objectRef<ReplayResultShape>('ReplayResult').implement({
  fields: (t) => ({
    replayed: t.exposeInt('replayed'),
    failed: t.exposeInt('failed'),
    ids: t.exposeIDList('ids'),
  }),
});

const DeadLetterFilter = builder.inputType('DeadLetterFilter', {
  fields: (t) => ({
    topic: t.string(),
    queue: t.string(),
    reason: t.field({ type: FailureReason }),
    from: t.field({ type: 'DateTime' }),
    to: t.field({ type: 'DateTime' }),
    search: t.string({ description: 'Substring of the error or the message id.' }),
  }),
});

builder.queryFields((t) => ({
  deadLetters: t.field({
    type: DeadLetterConnection,
    args: {
      filter: t.arg({ type: DeadLetterFilter }),
      first: t.arg.int({ defaultValue: 50 }),
      after: t.arg.string(),
    },
    resolve: notImplemented('Query.deadLetters'),
  }),
  deadLetter: t.field({
    type: DeadLetter,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: notImplemented('Query.deadLetter'),
  }),
}));

builder.mutationFields((t) => ({
  replayDeadLetter: t.field({
    type: ReplayResult,
    args: {
      id: t.arg.id({ required: true }),
      payload: t.arg({ type: 'JSON' }),
      toQueue: t.arg.string(),
    },
    resolve: notImplemented('Mutation.replayDeadLetter'),
  }),
  replayDeadLetters: t.field({
    type: ReplayResult,
    args: {
      filter: t.arg({ type: DeadLetterFilter, required: true }),
      limit: t.arg.int({ defaultValue: 1000 }),
    },
    resolve: notImplemented('Mutation.replayDeadLetters'),
  }),
  discardDeadLetter: t.boolean({
    args: { id: t.arg.id({ required: true }) },
    resolve: notImplemented('Mutation.discardDeadLetter'),
  }),
  discardDeadLetters: t.int({
    args: { filter: t.arg({ type: DeadLetterFilter, required: true }) },
    resolve: notImplemented('Mutation.discardDeadLetters'),
  }),
}));
