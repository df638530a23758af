import { ALERT_KINDS, type Alert as AlertRecord } from '../queues/stats/index.js';
import { alerts } from '../resolvers/alerts.js';
import { builder } from './builder.js';

const AlertKind = builder.enumType('AlertKind', {
  description:
    'QUEUE_LAG: the oldest deliverable message has waited too long. QUEUE_DEPTH: too many wait. ' +
    "DEAD_LETTERS: the queue holds dead letters. CIRCUIT_OPEN: a webhook endpoint's circuit breaker is open.",
  values: ALERT_KINDS,
});

const Alert = builder.objectRef<AlertRecord>('Alert').implement({
  description: 'A built-in alert firing now, shared by every gateway instance (docs/METRICS.md#alerts).',
  fields: (t) => ({
    id: t.exposeID('id', { description: '<kind>:<topic>/<queue>' }),
    kind: t.expose('kind', { type: AlertKind }),
    topic: t.exposeString('topic'),
    queue: t.exposeString('queue'),
    value: t.exposeFloat('value', {
      description: 'What was measured: ms of lag, messages waiting, dead letters, or 1 for an open circuit.',
    }),
    threshold: t.exposeFloat('threshold', { description: 'The setting it reached.' }),
    since: t.expose('since', { type: 'DateTime', description: 'When it started firing.' }),
    message: t.exposeString('message'),
  }),
});

// Alerts describe queues the way their counters do: the stats scope reads them.
builder.queryField('alerts', (t) =>
  t.withAuth({ stats: true }).field({
    type: [Alert],
    description: 'The built-in alerts firing now, oldest first.',
    resolve: (_root, args, ctx) => alerts(args, ctx),
  }),
);
