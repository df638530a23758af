import type { QueueAlertThresholds } from '../queues/core/index.js';
import {
  ALERT_KINDS,
  type Alert as AlertRecord,
  type AlertTransition as AlertTransitionRecord,
} from '../queues/stats/index.js';
import { alerts } from '../resolvers/alerts.js';
import { alertsSubscription } from '../resolvers/alerts-subscription.js';
import { builder } from './builder.js';
import { describeValues } from './enums.js';

const AlertKind = builder.enumType('AlertKind', {
  description: 'What a built-in alert watches, per queue (docs/METRICS.md#alerts).',
  values: describeValues(ALERT_KINDS, {
    QUEUE_LAG:
      'The oldest deliverable message has waited maxLagMs or longer (gateway default SWITCHYARD_ALERT_LAG_MS, 300000: 5 minutes).',
    QUEUE_DEPTH: 'maxWaiting or more messages wait (gateway default SWITCHYARD_ALERT_DEPTH, 1000).',
    DEAD_LETTERS:
      'The queue holds SWITCHYARD_ALERT_DEAD_LETTERS or more dead letters (default 1; 0 turns it off).',
    CIRCUIT_OPEN:
      "A webhook queue's circuit breaker is open or probing (SWITCHYARD_ALERT_CIRCUIT, default true).",
    DELIVERY_LATENCY:
      'P95 publish-to-delivered latency over the alert window at or over maxDeliveryLatencyMs (gateway default SWITCHYARD_ALERT_DELIVERY_LATENCY_MS, 1000).',
    FAILURE_RATE:
      'Failed attempts per attempt over the alert window at or over maxFailureRate (gateway default SWITCHYARD_ALERT_FAILURE_RATE, 0.01).',
    RETRIES:
      'A message needed maxAttempts attempts or more within the alert window (gateway default SWITCHYARD_ALERT_RETRIES, 3).',
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
      description:
        'What was measured: ms of lag, messages waiting, dead letters, 1 for an open circuit, P95 latency in ms, ' +
        'the failure rate (0 to 1), or the most attempts a message needed.',
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

/** Per-queue alert thresholds, as createQueue and updateQueue take them. */
export const AlertThresholdsInput = builder.inputType('AlertThresholdsInput', {
  description:
    "A queue's own alert thresholds; a field left out keeps its value, null falls back to the gateway's " +
    'setting, 0 turns the kind off for this queue. Negative values, and a failure rate above 1, are refused ' +
    'with BAD_USER_INPUT.',
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

/** A queue's own thresholds as stored; null: the gateway's setting. */
export const AlertThresholds = builder.objectRef<QueueAlertThresholds>('AlertThresholds').implement({
  description:
    "A queue's own alert thresholds (AlertThresholdsInput); null where the gateway's setting holds, 0 where the kind is off.",
  fields: (t) => ({
    maxWaiting: t.exposeInt('maxWaiting', {
      nullable: true,
      description: 'Messages waiting at which QUEUE_DEPTH fires.',
    }),
    maxLagMs: t.exposeInt('maxLagMs', { nullable: true, description: 'Lag in ms at which QUEUE_LAG fires.' }),
    maxDeliveryLatencyMs: t.exposeInt('maxDeliveryLatencyMs', {
      nullable: true,
      description: 'P95 latency in ms over the alert window at which DELIVERY_LATENCY fires.',
    }),
    maxFailureRate: t.exposeFloat('maxFailureRate', {
      nullable: true,
      description: 'Failed attempts per attempt (0 to 1) over the alert window at which FAILURE_RATE fires.',
    }),
    maxAttempts: t.exposeInt('maxAttempts', {
      nullable: true,
      description: 'Attempts a message needed at which RETRIES fires.',
    }),
  }),
});

const ALERT_TRANSITIONS = ['FIRING', 'RESOLVED'] as const;

const AlertTransition = builder.enumType('AlertTransition', {
  description: 'Whether an alert started or stopped firing.',
  values: describeValues(ALERT_TRANSITIONS, {
    FIRING: 'The alert started firing.',
    RESOLVED: 'The alert stopped firing.',
  }),
});

const AlertEvent = builder.objectRef<AlertTransitionRecord>('AlertEvent').implement({
  description: 'An alert starting or ceasing to fire, announced once over every gateway instance.',
  fields: (t) => ({
    transition: t.expose('state', { type: AlertTransition, description: 'Started or stopped firing.' }),
    alert: t.expose('alert', { type: Alert, description: 'The alert, as it was at the transition.' }),
    at: t.expose('at', { type: 'DateTime', description: 'When it happened.' }),
  }),
});

builder.subscriptionField('alerts', (t) =>
  t.withAuth({ stats: true }).field({
    type: AlertEvent,
    description:
      'Alerts as they fire and resolve on any instance, from now on (Query.alerts has those firing already). ' +
      'Needs the stats scope (or admin).',
    subscribe: (_root, args, ctx) => alertsSubscription(args, ctx),
    resolve: (event: AlertTransitionRecord) => event,
  }),
);
