import type { QueueStats as QueueStatsRecord, TopicStats as TopicStatsRecord } from '../queues/stats.js';
import type { QueueRecord } from '../queues/types.js';
import { notImplemented } from '../resolvers/not-implemented.js';
import { queueStats } from '../resolvers/queue-stats.js';
import { topicStats } from '../resolvers/topic-stats.js';
import { builder } from './builder.js';
import { Queue } from './queue.js';
import { Topic } from './topic.js';

// The stats issue brings the engine side (rates and latency percentiles); until then this shape says
// what it must answer for the contract's Stats.
interface StatsShape {
  at: string;
  publishedPerSecond: number;
  deliveredPerSecond: number;
  failedPerSecond: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  latencyP99Ms: number;
  deadLettered: number;
  queues: QueueRecord[];
}

const QueueStats = builder.objectRef<QueueStatsRecord>('QueueStats').implement({
  fields: (t) => ({
    waiting: t.exposeInt('waiting'),
    active: t.exposeInt('active'),
    delayed: t.exposeInt('delayed'),
    completed: t.exposeInt('completed'),
    failed: t.exposeInt('failed', { description: 'Failures that will be retried are not counted here.' }),
    deadLettered: t.exposeInt('deadLettered'),
    paused: t.exposeBoolean('paused'),
  }),
});

const TopicStats = builder.objectRef<TopicStatsRecord>('TopicStats').implement({
  fields: (t) => ({
    published: t.exposeInt('published'),
    unrouted: t.exposeInt('unrouted', { description: 'Published while no queue matched.' }),
    deadLettered: t.exposeInt('deadLettered'),
  }),
});

const Stats = builder.objectRef<StatsShape>('Stats').implement({
  fields: (t) => ({
    at: t.expose('at', { type: 'DateTime' }),
    publishedPerSecond: t.exposeFloat('publishedPerSecond'),
    deliveredPerSecond: t.exposeFloat('deliveredPerSecond'),
    failedPerSecond: t.exposeFloat('failedPerSecond'),
    latencyP50Ms: t.exposeFloat('latencyP50Ms', {
      description: 'Publish to delivered, over the last window.',
    }),
    latencyP95Ms: t.exposeFloat('latencyP95Ms'),
    latencyP99Ms: t.exposeFloat('latencyP99Ms'),
    deadLettered: t.exposeInt('deadLettered'),
    queues: t.expose('queues', { type: [Queue] }),
  }),
});

builder.objectField(Topic, 'stats', (t) =>
  t.field({ type: TopicStats, resolve: (topic, _args, ctx) => topicStats(topic, ctx) }),
);

builder.objectField(Queue, 'stats', (t) =>
  t.field({ type: QueueStats, resolve: (queue, _args, ctx) => queueStats(queue, ctx) }),
);

builder.queryField('stats', (t) => t.field({ type: Stats, resolve: notImplemented('Query.stats') }));

builder.subscriptionField('stats', (t) =>
  t.field({
    type: Stats,
    args: { intervalMs: t.arg.int({ defaultValue: 1000 }) },
    subscribe: notImplemented('Subscription.stats'),
    resolve: (stats: StatsShape) => stats,
  }),
);
