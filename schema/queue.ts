import type { QueueRecord, RetryPolicy as RetryPolicyRecord } from '../queues/core/index.js';
import { createQueue } from '../resolvers/create-queue.js';
import { deleteQueue } from '../resolvers/delete-queue.js';
import { pauseQueue } from '../resolvers/pause-queue.js';
import { queue } from '../resolvers/queue.js';
import { resumeQueue } from '../resolvers/resume-queue.js';
import { rotateSigningSecret } from '../resolvers/rotate-signing-secret.js';
import { updateQueue } from '../resolvers/update-queue.js';
import { AlertThresholds, AlertThresholdsInput } from './alert.js';
import { builder } from './builder.js';
import { Backoff, DeliveryMode, HeaderMatch, TargetKind } from './enums.js';

const RetryPolicy = builder.objectRef<RetryPolicyRecord>('RetryPolicy').implement({
  description: 'How a queue retries a failed delivery (docs/DELIVERY.md#retries-and-backoff).',
  fields: (t) => ({
    maxAttempts: t.exposeInt('maxAttempts', {
      description: 'Attempts in all, the first included; then the message becomes a dead letter.',
    }),
    backoff: t.expose('backoff', { type: Backoff, description: 'How the wait grows between attempts.' }),
    delayMs: t.exposeInt('delayMs', { description: 'Wait before the first retry, in ms.' }),
    maxDelayMs: t.exposeInt('maxDelayMs', { description: 'Longest wait between attempts, in ms.' }),
    jitter: t.exposeBoolean('jitter', {
      description:
        'True: each wait d becomes a random value in [d/2, d], so failing messages do not retry in lockstep.',
    }),
  }),
});

export const Queue = builder.objectRef<QueueRecord>('Queue').implement({
  description:
    'A durable subscription bound to one topic, delivering to a webhook or to consumers. Readable by every ' +
    'key that can see its topic.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Unique within its topic; 1 to 128 of A-Z a-z 0-9 . _ -' }),
    topic: t.exposeString('topic', { description: 'The name of the topic it is bound to.' }),
    bindingKey: t.exposeString('bindingKey', {
      nullable: true,
      description:
        'DIRECT: the exact routing key; TOPIC: a pattern with * and #. Null on FANOUT and HEADERS topics.',
    }),
    headers: t.expose('headers', {
      type: 'JSON',
      nullable: true,
      description:
        'HEADERS topics: the header values to match (names case-insensitive). Null on other kinds.',
    }),
    headerMatch: t.expose('headerMatch', {
      type: HeaderMatch,
      nullable: true,
      description: 'HEADERS topics: ALL or ANY of headers must match; null means ALL. Null on other kinds.',
    }),
    target: t.expose('target', { type: TargetKind, description: 'Where it delivers; fixed at creation.' }),
    url: t.exposeString('url', {
      nullable: true,
      description: 'WEBHOOK: the endpoint each message is POSTed to; null for CONSUMER queues.',
    }),
    // Null, not FORBIDDEN, for other keys: a dashboard's one query then works for every key.
    signingSecret: t.withAuth({ admin: true }).exposeString('signingSecret', {
      nullable: true,
      description: 'WEBHOOK only: whsec_… (Standard Webhooks); answered to admins only, null for other keys.',
      unauthorizedResolver: () => null,
    }),
    deliveryMode: t.expose('deliveryMode', {
      type: DeliveryMode,
      description: 'What it promises about repeats.',
    }),
    retry: t.expose('retry', { type: RetryPolicy, description: 'How failed deliveries are retried.' }),
    concurrency: t.exposeInt('concurrency', {
      description:
        'WEBHOOK: deliveries in flight at once per gateway process: the fixed value or, with a range, the ' +
        "value each instance's worker starts at; Queue.stats.concurrency is where an instance stands now. " +
        'CONSUMER queues do not use it.',
    }),
    minConcurrency: t.int({
      nullable: true,
      description:
        'WEBHOOK: the lowest concurrency each instance scales down to when the backlog is gone ' +
        '(docs/DELIVERY.md#concurrency-and-autoscaling); null for a fixed concurrency.',
      resolve: (queue) => queue.minConcurrency ?? null,
    }),
    maxConcurrency: t.int({
      nullable: true,
      description:
        'WEBHOOK: the highest concurrency each instance scales up to while messages wait or lag; null ' +
        'for a fixed concurrency.',
      resolve: (queue) => queue.maxConcurrency ?? null,
    }),
    ackTimeoutMs: t.exposeInt('ackTimeoutMs', {
      description:
        'In ms. WEBHOOK: how long a request may take before it fails with TIMEOUT; CONSUMER: the visibility ' +
        'timeout, how long a delivery waits for its ack before the message is delivered again.',
    }),
    maxPriority: t.exposeInt('maxPriority', {
      description:
        'The highest message priority this queue orders by (0..9); a message above it counts as maxPriority. 0: a FIFO queue, which ignores priorities and costs Redis less per message.',
    }),
    paused: t.exposeBoolean('paused', {
      description: 'True after pauseQueue: messages still arrive, none is delivered until resumeQueue.',
    }),
    // Alerts are an operator's view, like the counters they watch: the stats scope reads them.
    alertThresholds: t.withAuth({ stats: true }).field({
      type: AlertThresholds,
      description:
        "The queue's own alert thresholds, null where the gateway's hold (docs/METRICS.md#alerts). Needs the stats scope (or admin).",
      resolve: (queue) => ({
        maxWaiting: null,
        maxLagMs: null,
        maxDeliveryLatencyMs: null,
        maxFailureRate: null,
        maxAttempts: null,
        ...queue.alerts,
      }),
    }),
  }),
});

const RetryPolicyInput = builder.inputType('RetryPolicyInput', {
  description:
    'A retry policy; each field left out keeps its default (on create) or its current value (on update).',
  fields: (t) => ({
    maxAttempts: t.int({
      description:
        'Attempts in all, the first included: 1 to 100, default 5. AT_MOST_ONCE queues take only 1.',
    }),
    backoff: t.field({ type: Backoff, description: 'Default EXPONENTIAL.' }),
    delayMs: t.int({
      description: 'Wait before the first retry, in ms: 0 to 86400000 (24 h), default 1000.',
    }),
    maxDelayMs: t.int({
      description: 'Longest wait between attempts, in ms: delayMs to 86400000 (24 h), default 60000.',
    }),
    jitter: t.boolean({ description: 'Randomise each wait d within [d/2, d]. Default true.' }),
  }),
});

const CreateQueueInput = builder.inputType('CreateQueueInput', {
  description: 'A new queue of an existing topic. The binding fields that fit depend on the topic kind.',
  fields: (t) => ({
    topic: t.string({
      required: true,
      description: 'The topic to bind to; NOT_FOUND when it does not exist.',
    }),
    name: t.string({
      required: true,
      description: 'Unique within the topic; 1 to 128 of A-Z a-z 0-9 . _ - (CONFLICT when taken).',
    }),
    bindingKey: t.string({
      description:
        'DIRECT: the exact routing key; TOPIC: a pattern (* one word, # zero or more). At most 255 characters. ' +
        'Refused on FANOUT and HEADERS topics.',
    }),
    headers: t.field({
      type: 'JSON',
      description:
        'HEADERS topics only: a flat object of header names (case-insensitive) and the string values to match.',
    }),
    headerMatch: t.field({
      type: HeaderMatch,
      description: 'HEADERS topics only: ALL (default) or ANY of headers must match.',
    }),
    target: t.field({
      type: TargetKind,
      required: true,
      description: 'Where it delivers; fixed once created.',
    }),
    url: t.string({
      description:
        'Required for WEBHOOK, refused for CONSUMER: an http(s) URL of at most 2048 characters. Private and ' +
        'loopback addresses are refused unless the gateway allows them (SWITCHYARD_ALLOW_PRIVATE_WEBHOOKS).',
    }),
    deliveryMode: t.field({ type: DeliveryMode, description: 'Default AT_LEAST_ONCE.' }),
    retry: t.field({
      type: RetryPolicyInput,
      description: 'Default: 5 attempts, EXPONENTIAL from 1 s up to 60 s, jitter.',
    }),
    concurrency: t.int({
      description:
        'WEBHOOK: deliveries at once per gateway process, 1 to 1000, default 10. With a range: where each ' +
        "instance's worker starts, within it (default minConcurrency).",
    }),
    minConcurrency: t.int({
      description:
        'WEBHOOK: with maxConcurrency, makes the concurrency a range, 1 to 1000, that each instance moves ' +
        'its worker in by backlog and lag (docs/DELIVERY.md#concurrency-and-autoscaling). Both or neither; at most maxConcurrency.',
    }),
    maxConcurrency: t.int({
      description: 'WEBHOOK: the top of the range, 1 to 1000, at least minConcurrency. Both or neither.',
    }),
    ackTimeoutMs: t.int({
      description:
        'WEBHOOK request timeout or CONSUMER visibility timeout, in ms: 100 to 43200000 (12 h), default 30000.',
    }),
    maxPriority: t.int({
      description:
        'Default 9: every priority counts. 0 makes a FIFO queue. Fixed once the queue exists (delete and recreate it to change).',
    }),
    alerts: t.field({
      type: AlertThresholdsInput,
      description: "The queue's own alert thresholds; left out, every kind uses the gateway's setting.",
    }),
  }),
});

const UpdateQueueInput = builder.inputType('UpdateQueueInput', {
  description: 'Only the fields given change; the queue is checked as a whole before it is stored.',
  fields: (t) => ({
    bindingKey: t.string({ description: 'As in CreateQueueInput; null removes it.' }),
    headers: t.field({ type: 'JSON', description: 'As in CreateQueueInput; null removes them.' }),
    headerMatch: t.field({ type: HeaderMatch, description: 'As in CreateQueueInput; null means ALL.' }),
    url: t.string({ description: 'WEBHOOK queues: the new endpoint, checked as in CreateQueueInput.' }),
    deliveryMode: t.field({ type: DeliveryMode, description: 'The new delivery mode.' }),
    retry: t.field({ type: RetryPolicyInput, description: 'Only the retry fields given change.' }),
    concurrency: t.int({
      description:
        'WEBHOOK: deliveries at once per gateway process, 1 to 1000; with a range, the start within it.',
    }),
    minConcurrency: t.int({
      description:
        'WEBHOOK: the bottom of the range; alone it moves that end of an existing range. Null on both ' +
        'ends makes the concurrency fixed again (at concurrency).',
    }),
    maxConcurrency: t.int({
      description: 'WEBHOOK: the top of the range; alone it moves that end of an existing range.',
    }),
    ackTimeoutMs: t.int({ description: 'As in CreateQueueInput: in ms, 100 to 43200000 (12 h).' }),
    alerts: t.field({
      type: AlertThresholdsInput,
      description:
        'Only the threshold fields given change (null: back to the gateway setting); null resets them all.',
    }),
  }),
});

builder.queryField('queue', (t) =>
  t.withAuth({ caller: true }).field({
    type: Queue,
    nullable: true,
    description: 'Null when there is no such queue, or this key cannot see its topic. Any key.',
    args: {
      topic: t.arg.string({ required: true, description: 'The topic name.' }),
      name: t.arg.string({ required: true, description: 'The queue name within the topic.' }),
    },
    resolve: (_root, args, ctx) => queue(args, ctx),
  }),
);

builder.mutationFields((t) => {
  const queueArgs = {
    topic: t.arg.string({ required: true, description: 'The topic name.' }),
    name: t.arg.string({ required: true, description: 'The queue name within the topic.' }),
  };
  return {
    createQueue: t.withAuth({ admin: true }).field({
      type: Queue,
      description: 'Admin only. Answers the new queue; it receives messages published from now on.',
      args: { input: t.arg({ type: CreateQueueInput, required: true, description: 'The queue to create.' }) },
      resolve: (_root, args, ctx) => createQueue(args, ctx),
    }),
    updateQueue: t.withAuth({ admin: true }).field({
      type: Queue,
      description:
        'Admin only. Changes the settings given and answers the queue; NOT_FOUND when there is none.',
      args: {
        ...queueArgs,
        input: t.arg({ type: UpdateQueueInput, required: true, description: 'The settings to change.' }),
      },
      resolve: (_root, args, ctx) => updateQueue(args, ctx),
    }),
    deleteQueue: t.withAuth({ admin: true }).boolean({
      description:
        'Admin only. Drops the queue and every message in it, dead letters included; NOT_FOUND when there is none.',
      args: queueArgs,
      resolve: (_root, args, ctx) => deleteQueue(args, ctx),
    }),
    pauseQueue: t.withAuth({ admin: true }).field({
      type: Queue,
      description: 'Admin only. Stops deliveries on every instance; messages keep arriving and wait.',
      args: queueArgs,
      resolve: (_root, args, ctx) => pauseQueue(args, ctx),
    }),
    resumeQueue: t.withAuth({ admin: true }).field({
      type: Queue,
      description: 'Admin only. Starts deliveries again after pauseQueue.',
      args: queueArgs,
      resolve: (_root, args, ctx) => resumeQueue(args, ctx),
    }),
    rotateSigningSecret: t.withAuth({ admin: true }).field({
      type: Queue,
      description:
        'Admin only, WEBHOOK queues only. A new signing secret; the old one keeps signing beside it for a grace ' +
        'period (SWITCHYARD_SIGNING_SECRET_GRACE_MS, default 24 h).',
      args: queueArgs,
      resolve: (_root, args, ctx) => rotateSigningSecret(args, ctx),
    }),
  };
});
