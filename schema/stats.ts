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
  fields: (t) => ({
    waiting: t.exposeInt('waiting'),
    active: t.exposeInt('active'),
    delayed: t.exposeInt('delayed'),
    completed: t.exposeInt('completed'),
    failed: t.exposeInt('failed', { description: 'Failures that will be retried are not counted here.' }),
    deadLettered: t.exposeInt('deadLettered'),
    paused: t.exposeBoolean('paused'),
    oldestWaitingAgeMs: t.exposeFloat('oldestWaitingAgeMs', {
      nullable: true,
      description:
        "The queue's lag: how long the oldest message that could be delivered now has waited, in ms " +
        '(a delayed message counts from the end of its delay). Null when none waits.',
    }),
  }),
});

const TopicStats = builder.objectRef<TopicStatsRecord>('TopicStats').implement({
  fields: (t) => ({
    published: t.exposeInt('published'),
    unrouted: t.exposeInt('unrouted', { description: 'Published while no queue matched.' }),
    deadLettered: t.exposeInt('deadLettered'),
  }),
});

const Stats = builder.objectRef<StatsSnapshot>('Stats').implement({
  description:
    'Rates and latency over a sliding window, for the whole cluster: every instance counts its own ' +
    'events and shares the counts once a second, so figures from other instances lag up to a second.',
  fields: (t) => ({
    at: t.expose('at', { type: 'DateTime' }),
    publishedPerSecond: t.exposeFloat('publishedPerSecond'),
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
    latencyP95Ms: t.exposeFloat('latencyP95Ms'),
    latencyP99Ms: t.exposeFloat('latencyP99Ms'),
    deadLettered: t.exposeInt('deadLettered', { description: 'Dead letters now, over every queue.' }),
    queues: t.expose('queues', { type: [Queue] }),
    windowMs: t.exposeInt('windowMs', {
      description: 'The span the rates and percentiles cover: the window, or less just after start.',
    }),
  }),
});

// Counters need the stats scope wherever they are selected, nested in topology included.
builder.objectField(Topic, 'stats', (t) =>
  t
    .withAuth({ stats: true })
    .field({ type: TopicStats, resolve: (topic, _args, ctx) => topicStats(topic, ctx) }),
);

builder.objectField(Queue, 'stats', (t) =>
  t
    .withAuth({ stats: true })
    .field({ type: QueueStats, resolve: (queue, _args, ctx) => queueStats(queue, ctx) }),
);

builder.queryField('stats', (t) =>
  t.withAuth({ stats: true }).field({ type: Stats, resolve: (_root, args, ctx) => stats(args, ctx) }),
);

builder.subscriptionField('stats', (t) =>
  t.withAuth({ stats: true }).field({
    type: Stats,
    description:
      'Query.stats now, then every `intervalMs` (100 to 60000); a slow reader gets only the latest.',
    args: { intervalMs: t.arg.int({ defaultValue: 1000 }) },
    subscribe: (_root, args, ctx) => statsSubscription(args, ctx),
    resolve: (snapshot: StatsSnapshot) => snapshot,
  }),
);
