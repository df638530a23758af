import type { StatsSnapshot } from '../queues/live/index.js';
import type {
  QueueStats as QueueStatsRecord,
  TopicStats as TopicStatsRecord,
} from '../queues/stats/index.js';
import { queueStats } from '../resolvers/queue-stats.js';
import { stats } from '../resolvers/stats.js';
import { statsSubscription } from '../resolvers/stats-subscription.js';
import { topicStats } from '../resolvers/topic-stats.js';
import { builder } from './builder.js';
import { Queue } from './queue.js';
import { Topic } from './topic.js';

const QueueStats = builder.objectRef<QueueStatsRecord>('QueueStats').implement({
  description: "A queue's counts now, straight from BullMQ. Needs the stats scope (or admin).",
  fields: (t) => ({
    waiting: t.exposeInt('waiting', {
      description: 'Messages that could be delivered now (a paused queue included).',
    }),
    active: t.exposeInt('active', {
      description:
        'Messages being delivered now: webhook requests in flight and consumer deliveries not yet settled.',
    }),
    delayed: t.exposeInt('delayed', { description: 'Messages waiting for their delayMs or for a retry.' }),
    completed: t.exposeInt('completed', {
      description: "Messages delivered, as BullMQ's completed-job metrics count them.",
    }),
    failed: t.exposeInt('failed', {
      description:
        'Messages that failed for good (the dead letters); failures that will be retried are not counted here.',
    }),
    deadLettered: t.exposeInt('deadLettered', {
      description: 'Dead letters held now; the same count as failed.',
    }),
    paused: t.exposeBoolean('paused', { description: 'True while the queue is paused (pauseQueue).' }),
    oldestWaitingAgeMs: t.exposeFloat('oldestWaitingAgeMs', {
      nullable: true,
      description:
        "The queue's lag: how long the oldest message that could be delivered now has waited, in ms " +
        '(a delayed message counts from the end of its delay). Null when none waits.',
    }),
    concurrency: t.exposeInt('concurrency', {
      nullable: true,
      description:
        "WEBHOOK: deliveries the answering instance's worker may run at once now: the queue's fixed " +
        'concurrency, or where its autoscaler stands within minConcurrency..maxConcurrency (each instance ' +
        'scales its own). Null when that instance runs no worker for the queue (CONSUMER queues).',
    }),
  }),
});

const TopicStats = builder.objectRef<TopicStatsRecord>('TopicStats').implement({
  description: "A topic's counters. Needs the stats scope (or admin).",
  fields: (t) => ({
    published: t.exposeInt('published', { description: 'Messages published to it since it was created.' }),
    unrouted: t.exposeInt('unrouted', { description: 'Published while no queue matched.' }),
    deadLettered: t.exposeInt('deadLettered', { description: 'Dead letters held now, over all its queues.' }),
  }),
});

const Stats = builder.objectRef<StatsSnapshot>('Stats').implement({
  description:
    'Rates and latency over a sliding window, for the whole cluster: every instance counts its own ' +
    'events and shares the counts once a second, so figures from other instances lag up to a second.',
  fields: (t) => ({
    at: t.expose('at', { type: 'DateTime', description: 'When these figures were taken.' }),
    publishedPerSecond: t.exposeFloat('publishedPerSecond', {
      description: 'Messages published per second, over the window.',
    }),
    deliveredPerSecond: t.exposeFloat('deliveredPerSecond', {
      description: 'Deliveries acknowledged: webhook 2xx answers and consumer acks.',
    }),
    failedPerSecond: t.exposeFloat('failedPerSecond', {
      description: 'Failed attempts, whether retried, dead-lettered or expired.',
    }),
    latencyP50Ms: t.exposeFloat('latencyP50Ms', {
      description:
        'Publish to delivered, over the last window (to within 1 %); 0 when nothing was delivered.',
    }),
    latencyP95Ms: t.exposeFloat('latencyP95Ms', { description: 'As latencyP50Ms, the 95th percentile.' }),
    latencyP99Ms: t.exposeFloat('latencyP99Ms', { description: 'As latencyP50Ms, the 99th percentile.' }),
    deadLettered: t.exposeInt('deadLettered', { description: 'Dead letters now, over every queue.' }),
    queues: t.expose('queues', {
      type: [Queue],
      description: 'Every queue, for their counts (Queue.stats).',
    }),
    windowMs: t.exposeInt('windowMs', {
      description: 'The span the rates and percentiles cover: the window, or less just after start.',
    }),
  }),
});

// Counters need the stats scope wherever they are selected, nested in topology included.
builder.objectField(Topic, 'stats', (t) =>
  t.withAuth({ stats: true }).field({
    type: TopicStats,
    description: 'Its counters. Needs the stats scope (or admin).',
    resolve: (topic, _args, ctx) => topicStats(topic, ctx),
  }),
);

builder.objectField(Queue, 'stats', (t) =>
  t.withAuth({ stats: true }).field({
    type: QueueStats,
    description: 'Its counts now. Needs the stats scope (or admin).',
    resolve: (queue, _args, ctx) => queueStats(queue, ctx),
  }),
);

builder.queryField('stats', (t) =>
  t.withAuth({ stats: true }).field({
    type: Stats,
    description: 'Cluster-wide rates and latency now. Needs the stats scope (or admin).',
    resolve: (_root, args, ctx) => stats(args, ctx),
  }),
);

builder.subscriptionField('stats', (t) =>
  t.withAuth({ stats: true }).field({
    type: Stats,
    description:
      'Query.stats now, then every `intervalMs`; a slow reader gets only the latest. Needs the stats scope (or admin).',
    args: {
      intervalMs: t.arg.int({
        defaultValue: 1000,
        description: 'Time between two figures, in ms, 100 to 60000.',
      }),
    },
    subscribe: (_root, args, ctx) => statsSubscription(args, ctx),
    resolve: (snapshot: StatsSnapshot) => snapshot,
  }),
);
