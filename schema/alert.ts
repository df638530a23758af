import { ALERT_KINDS, type Alert as AlertRecord } from '../queues/alerts.js';
import { alerts } from '../resolvers/alerts.js';
import { notBuilt } from '../resolvers/not-built.js';
import { builder } from './builder.js';

const AlertKind = builder.enumType('AlertKind', {
  description:
    'QUEUE_LAG: the oldest deliverable message has waited too long. QUEUE_DEPTH: too many wait. ' +
    "DEAD_LETTERS: the queue holds dead letters. CIRCUIT_OPEN: a webhook endpoint's circuit breaker is open.",
  // The engine evaluates ALERT_KINDS; the contract's second wave adds three kinds that nothing fires yet.
  values: [...ALERT_KINDS, 'DELIVERY_LATENCY', 'FAILURE_RATE', 'RETRIES'] as const,
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

/** Per-queue alert thresholds; not built yet, so createQueue and updateQueue refuse them. */
export const AlertThresholdsInput = builder.inputType('AlertThresholdsInput', {
  fields: (t) => ({
    maxWaiting: t.int(),
    maxLagMs: t.int(),
    maxDeliveryLatencyMs: t.int(),
    maxFailureRate: t.float(),
    maxAttempts: t.int(),
  }),
});

const ALERT_TRANSITIONS = ['FIRING', 'RESOLVED'] as const;

interface AlertEventShape {
  transition: (typeof ALERT_TRANSITIONS)[number];
  alert: AlertRecord;
  at: Date;
}

const AlertTransition = builder.enumType('AlertTransition', { values: ALERT_TRANSITIONS });

const AlertEvent = builder.objectRef<AlertEventShape>('AlertEvent').implement({
  description:
    'An alert starting or ceasing to fire. Not built yet: Subscription.alerts answers UNAVAILABLE.',
  fields: (t) => ({
    transition: t.expose('transition', { type: AlertTransition }),
    alert: t.expose('alert', { type: Alert }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

builder.subscriptionField('alerts', (t) =>
  t.withAuth({ stats: true }).field({
    type: AlertEvent,
    description: 'Alerts as they fire and resolve. Not built yet: answers UNAVAILABLE.',
    subscribe: () => notBuilt('Subscription.alerts'),
    resolve: (event: AlertEventShape) => event,
  }),
);
