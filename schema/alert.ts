import { ALERT_KINDS, type Alert as AlertRecord } from '../queues/stats/index.js';
import { alerts } from '../resolvers/alerts.js';
import { notBuilt } from '../resolvers/not-built.js';
import { builder } from './builder.js';
import { describeValues } from './enums.js';

const AlertKind = builder.enumType('AlertKind', {
  description: 'What a built-in alert watches, per queue (docs/METRICS.md#alerts).',
  // The engine evaluates ALERT_KINDS; the contract's second wave adds three kinds that nothing fires yet.
  values: describeValues([...ALERT_KINDS, 'DELIVERY_LATENCY', 'FAILURE_RATE', 'RETRIES'] as const, {
    QUEUE_LAG:
      'The oldest deliverable message has waited SWITCHYARD_ALERT_LAG_MS or longer (default 300000, 5 minutes; 0 turns it off).',
    QUEUE_DEPTH: 'SWITCHYARD_ALERT_DEPTH or more messages wait (default 0: off).',
    DEAD_LETTERS:
      'The queue holds SWITCHYARD_ALERT_DEAD_LETTERS or more dead letters (default 1; 0 turns it off).',
    CIRCUIT_OPEN:
      "A webhook queue's circuit breaker is open or probing (SWITCHYARD_ALERT_CIRCUIT, default true).",
    DELIVERY_LATENCY:
      'Not built yet, never fires: P95 publish-to-delivered latency at or over the threshold.',
    FAILURE_RATE: 'Not built yet, never fires: failed attempts per attempt at or over the threshold.',
    RETRIES: 'Not built yet, never fires: a message needed the threshold number of attempts or more.',
  }),
});

const Alert = builder.objectRef<AlertRecord>('Alert').implement({
  description: 'A built-in alert firing now, shared by every gateway instance (docs/METRICS.md#alerts).',
  fields: (t) => ({
    id: t.exposeID('id', { description: '<kind>:<topic>/<queue>' }),
    kind: t.expose('kind', { type: AlertKind, description: 'What it watches.' }),
    topic: t.exposeString('topic', { description: 'The topic of the queue.' }),
    queue: t.exposeString('queue', { description: 'The queue it is about.' }),
    value: t.exposeFloat('value', {
      description: 'What was measured: ms of lag, messages waiting, dead letters, or 1 for an open circuit.',
    }),
    threshold: t.exposeFloat('threshold', { description: 'The setting it reached.' }),
    since: t.expose('since', { type: 'DateTime', description: 'When it started firing.' }),
    message: t.exposeString('message', {
      description: 'One line for people, naming the queue, the value and the threshold.',
    }),
  }),
});

// Alerts describe queues the way their counters do: the stats scope reads them.
builder.queryField('alerts', (t) =>
  t.withAuth({ stats: true }).field({
    type: [Alert],
    description: 'The built-in alerts firing now, oldest first. Needs the stats scope (or admin).',
    resolve: (_root, args, ctx) => alerts(args, ctx),
  }),
);

/** Per-queue alert thresholds; not built yet, so createQueue and updateQueue refuse them. */
export const AlertThresholdsInput = builder.inputType('AlertThresholdsInput', {
  description:
    "A queue's own alert thresholds; a field left null falls back to the gateway's setting. Not built yet: " +
    'createQueue and updateQueue refuse it with UNAVAILABLE.',
  fields: (t) => ({
    maxWaiting: t.int({ description: 'Messages waiting at which QUEUE_DEPTH fires.' }),
    maxLagMs: t.int({ description: 'Lag in ms at which QUEUE_LAG fires.' }),
    maxDeliveryLatencyMs: t.int({
      description:
        'P95 publish-to-delivered latency in ms, over the last window, at which DELIVERY_LATENCY fires.',
    }),
    maxFailureRate: t.float({
      description: 'Failed attempts per attempt over the last window, 0 to 1, at which FAILURE_RATE fires.',
    }),
    maxAttempts: t.int({ description: 'Attempts a message needed at which RETRIES fires.' }),
  }),
});

const ALERT_TRANSITIONS = ['FIRING', 'RESOLVED'] as const;

interface AlertEventShape {
  transition: (typeof ALERT_TRANSITIONS)[number];
  alert: AlertRecord;
  at: Date;
}

const AlertTransition = builder.enumType('AlertTransition', {
  description: 'Whether an alert started or stopped firing.',
  values: describeValues(ALERT_TRANSITIONS, {
    FIRING: 'The alert started firing.',
    RESOLVED: 'The alert stopped firing.',
  }),
});

const AlertEvent = builder.objectRef<AlertEventShape>('AlertEvent').implement({
  description:
    'An alert starting or ceasing to fire. Not built yet: Subscription.alerts answers UNAVAILABLE.',
  fields: (t) => ({
    transition: t.expose('transition', { type: AlertTransition, description: 'Started or stopped firing.' }),
    alert: t.expose('alert', { type: Alert, description: 'The alert, as it was at the transition.' }),
    at: t.expose('at', { type: 'DateTime', description: 'When it happened.' }),
  }),
});

builder.subscriptionField('alerts', (t) =>
  t.withAuth({ stats: true }).field({
    type: AlertEvent,
    description:
      'Alerts as they fire and resolve. Needs the stats scope (or admin). Not built yet: answers UNAVAILABLE.',
    subscribe: () => notBuilt('Subscription.alerts'),
    resolve: (event: AlertEventShape) => event,
  }),
);
