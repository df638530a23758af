import type { QueueRecord, RetryPolicy as RetryPolicyRecord } from '../queues/types.js';
import { createQueue } from '../resolvers/create-queue.js';
import { deleteQueue } from '../resolvers/delete-queue.js';
import { withoutUnbuilt } from '../resolvers/not-built.js';
import { pauseQueue } from '../resolvers/pause-queue.js';
import { queue } from '../resolvers/queue.js';
import { resumeQueue } from '../resolvers/resume-queue.js';
import { rotateSigningSecret } from '../resolvers/rotate-signing-secret.js';
import { updateQueue } from '../resolvers/update-queue.js';
import { AlertThresholdsInput } from './alert.js';
import { builder } from './builder.js';
import { Backoff, DeliveryMode, HeaderMatch, TargetKind } from './enums.js';

const RetryPolicy = builder.objectRef<RetryPolicyRecord>('RetryPolicy').implement({
  fields: (t) => ({
    maxAttempts: t.exposeInt('maxAttempts'),
    backoff: t.expose('backoff', { type: Backoff }),
    delayMs: t.exposeInt('delayMs'),
    maxDelayMs: t.exposeInt('maxDelayMs'),
    jitter: t.exposeBoolean('jitter'),
  }),
});

export const Queue = builder.objectRef<QueueRecord>('Queue').implement({
  description: 'A durable subscription bound to one topic, delivering to a webhook or to consumers.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Unique within its topic.' }),
    topic: t.exposeString('topic'),
    bindingKey: t.exposeString('bindingKey', {
      nullable: true,
      description: 'DIRECT: exact key; TOPIC: pattern with * and #.',
    }),
    headers: t.expose('headers', {
      type: 'JSON',
      nullable: true,
      description: 'HEADERS topics: values to match.',
    }),
    headerMatch: t.expose('headerMatch', { type: HeaderMatch, nullable: true }),
    target: t.expose('target', { type: TargetKind }),
    url: t.exposeString('url', { nullable: true, description: 'WEBHOOK only.' }),
    // Null, not FORBIDDEN, for other keys: a dashboard's one query then works for every key.
    signingSecret: t.withAuth({ admin: true }).exposeString('signingSecret', {
      nullable: true,
      description: 'WEBHOOK only: whsec_… (Standard Webhooks); answered to admins only, null for other keys.',
      unauthorizedResolver: () => null,
    }),
    deliveryMode: t.expose('deliveryMode', { type: DeliveryMode }),
    retry: t.expose('retry', { type: RetryPolicy }),
    concurrency: t.exposeInt('concurrency'),
    ackTimeoutMs: t.exposeInt('ackTimeoutMs', {
      description: 'WEBHOOK: request timeout; CONSUMER: visibility timeout.',
    }),
    maxPriority: t.exposeInt('maxPriority', {
      description:
        'The highest message priority this queue orders by (0..9); a message above it counts as maxPriority. 0: a FIFO queue, which ignores priorities and costs Redis less per message.',
    }),
    paused: t.exposeBoolean('paused'),
  }),
});

const RetryPolicyInput = builder.inputType('RetryPolicyInput', {
  fields: (t) => ({
    maxAttempts: t.int({ description: 'Default 5.' }),
    backoff: t.field({ type: Backoff, description: 'Default EXPONENTIAL.' }),
    delayMs: t.int({ description: 'Default 1000.' }),
    maxDelayMs: t.int({ description: 'Default 60000.' }),
    jitter: t.boolean({ description: 'Default true.' }),
  }),
});

const CreateQueueInput = builder.inputType('CreateQueueInput', {
  fields: (t) => ({
    topic: t.string({ required: true }),
    name: t.string({ required: true, description: '[A-Za-z0-9._-]{1,128}' }),
    bindingKey: t.string(),
    headers: t.field({ type: 'JSON' }),
    headerMatch: t.field({ type: HeaderMatch }),
    target: t.field({ type: TargetKind, required: true }),
    url: t.string(),
    deliveryMode: t.field({ type: DeliveryMode }),
    retry: t.field({ type: RetryPolicyInput }),
    concurrency: t.int(),
    ackTimeoutMs: t.int(),
    maxPriority: t.int({
      description:
        'Default 9: every priority counts. 0 makes a FIFO queue. Fixed once the queue exists (delete and recreate it to change).',
    }),
    alerts: t.field({
      type: AlertThresholdsInput,
      description: 'Not built yet: a createQueue that sets it is refused with UNAVAILABLE.',
    }),
  }),
});

const UpdateQueueInput = builder.inputType('UpdateQueueInput', {
  description: 'Only the fields given change; the queue is checked as a whole before it is stored.',
  fields: (t) => ({
    bindingKey: t.string(),
    headers: t.field({ type: 'JSON' }),
    headerMatch: t.field({ type: HeaderMatch }),
    url: t.string(),
    deliveryMode: t.field({ type: DeliveryMode }),
    retry: t.field({ type: RetryPolicyInput }),
    concurrency: t.int(),
    ackTimeoutMs: t.int(),
    alerts: t.field({
      type: AlertThresholdsInput,
      description: 'Not built yet: an updateQueue that sets it is refused with UNAVAILABLE.',
    }),
  }),
});

builder.queryField('queue', (t) =>
  t.withAuth({ caller: true }).field({
    type: Queue,
    nullable: true,
    description: 'Null when there is no such queue, or this key cannot see its topic.',
    args: { topic: t.arg.string({ required: true }), name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => queue(args, ctx),
  }),
);

builder.mutationFields((t) => {
  const queueArgs = {
    topic: t.arg.string({ required: true }),
    name: t.arg.string({ required: true }),
  };
  return {
    createQueue: t.withAuth({ admin: true }).field({
      type: Queue,
      args: { input: t.arg({ type: CreateQueueInput, required: true }) },
      resolve: (_root, args, ctx) =>
        createQueue({ input: withoutUnbuilt('CreateQueueInput', args.input, ['alerts']) }, ctx),
    }),
    updateQueue: t.withAuth({ admin: true }).field({
      type: Queue,
      args: { ...queueArgs, input: t.arg({ type: UpdateQueueInput, required: true }) },
      resolve: (_root, args, ctx) =>
        updateQueue({ ...args, input: withoutUnbuilt('UpdateQueueInput', args.input, ['alerts']) }, ctx),
    }),
    deleteQueue: t.withAuth({ admin: true }).boolean({
      description: 'Drops the queue and every message in it.',
      args: queueArgs,
      resolve: (_root, args, ctx) => deleteQueue(args, ctx),
    }),
    pauseQueue: t.withAuth({ admin: true }).field({
      type: Queue,
      args: queueArgs,
      resolve: (_root, args, ctx) => pauseQueue(args, ctx),
    }),
    resumeQueue: t.withAuth({ admin: true }).field({
      type: Queue,
      args: queueArgs,
      resolve: (_root, args, ctx) => resumeQueue(args, ctx),
    }),
    rotateSigningSecret: t.withAuth({ admin: true }).field({
      type: Queue,
      description: 'The old secret keeps signing for a grace period.',
      args: queueArgs,
      resolve: (_root, args, ctx) => rotateSigningSecret(args, ctx),
    }),
  };
});
