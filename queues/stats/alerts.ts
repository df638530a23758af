/**
 * Built-in alerts on what an operator of a queue must hear about without watching a dashboard: a queue
 * falling behind (lag), piling up (depth), holding dead letters, its webhook endpoint's circuit open,
 * its deliveries slow (P95 latency), failing (failure rate) or needing many attempts (retries).
 * Every instance evaluates every queue on a timer, reading the queue's depths from BullMQ and its
 * window figures from Redis (alert-window.ts), so every instance sees the same values; a queue's own
 * thresholds (QueueRecord.alerts) override the gateway's. The alerts hash in Redis says which alerts
 * fire, and a compare-and-set (alert-set-1.lua) lets exactly one instance announce each firing and
 * resolution, to the log, to the optional notification webhook, to `alerts` subscribers on every
 * instance (through the engine's `onTransition`) and to the `alerts` query and metrics.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import type { QueueAlertThresholds, QueueRecord } from '../core/index.js';
import type { CircuitStateName } from '../delivery/index.js';
import { postWebhook } from '../delivery/index.js';
import type { Commands, Keys } from '../redis/index.js';
import { webhookHeaders } from '../signing/index.js';
import type { AlertWindowFigures } from './alert-window.js';
import type { QueueStats } from './stats.js';

export const ALERT_KINDS = [
  'QUEUE_LAG',
  'QUEUE_DEPTH',
  'DEAD_LETTERS',
  'CIRCUIT_OPEN',
  'DELIVERY_LATENCY',
  'FAILURE_RATE',
  'RETRIES',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** A firing alert, as stored in Redis and answered by the `alerts` query. */
export interface Alert {
  /** `<kind>:<topic>/<queue>`: one alert per kind and queue. */
  id: string;
  kind: AlertKind;
  topic: string;
  queue: string;
  /**
   * What was measured: ms of lag, messages waiting, dead letters, 1 for an open circuit, P95 latency in
   * ms, the failure rate (0..1), or the most attempts a message needed.
   */
  value: number;
  /** The setting it crossed (value >= threshold fires). */
  threshold: number;
  /** When it started firing (ISO). */
  since: string;
  /** One line for a person. */
  message: string;
}

/** What sets alerts off, gateway-wide (a queue may set its own); 0 turns a kind off. */
export interface AlertThresholds {
  /** Lag (ms the oldest deliverable message has waited) at which QUEUE_LAG fires. @default 300000 */
  lagMs: number;
  /** Waiting messages at which QUEUE_DEPTH fires. @default 1000 */
  depth: number;
  /** Dead letters in a queue at which DEAD_LETTERS fires. @default 1 */
  deadLetters: number;
  /** Fire CIRCUIT_OPEN while a webhook queue's circuit breaker is open. @default true */
  circuitOpen: boolean;
  /** P95 publish-to-delivered latency (ms) over the alert window at which DELIVERY_LATENCY fires. @default 1000 */
  deliveryLatencyMs: number;
  /** Failed attempts per attempt over the alert window, 0..1, at which FAILURE_RATE fires. @default 0.01 */
  failureRate: number;
  /** Attempts a message needed, within the alert window, at which RETRIES fires. @default 3 */
  retries: number;
}

export const DEFAULT_ALERT_THRESHOLDS: AlertThresholds = {
  lagMs: 300_000,
  depth: 1000,
  deadLetters: 1,
  circuitOpen: true,
  deliveryLatencyMs: 1000,
  failureRate: 0.01,
  retries: 3,
};

/** The thresholds that hold for a queue: its own where it sets one, the gateway's elsewhere. */
export function queueThresholds(
  gateway: AlertThresholds,
  own: QueueAlertThresholds | null | undefined,
): AlertThresholds {
  return {
    ...gateway,
    lagMs: own?.maxLagMs ?? gateway.lagMs,
    depth: own?.maxWaiting ?? gateway.depth,
    deliveryLatencyMs: own?.maxDeliveryLatencyMs ?? gateway.deliveryLatencyMs,
    failureRate: own?.maxFailureRate ?? gateway.failureRate,
    retries: own?.maxAttempts ?? gateway.retries,
  };
}

/** Where firings and resolutions are POSTed, signed like deliveries (Standard Webhooks). */
export interface AlertWebhook {
  url: string;
  /** A `whsec_…` secret to sign with; unsigned without one. */
  secret: string | null;
  /** @default 5000 */
  timeoutMs?: number;
}

/** One reading of a queue, as the evaluation needs it. */
export interface AlertReading {
  queue: Pick<QueueRecord, 'topic' | 'name' | 'alerts'>;
  stats: Pick<QueueStats, 'waiting' | 'deadLettered' | 'oldestWaitingAgeMs'>;
  circuit: CircuitStateName | null;
  /** The queue's figures over the alert window, the same on every instance. */
  window: AlertWindowFigures;
}

/** A firing or a resolution, and when this instance announced it (ISO). */
export type AlertTransition = { state: 'FIRING' | 'RESOLVED'; alert: Alert; at: string };

export interface AlertsOptions {
  keys: Pick<Keys, 'alerts'>;
  client: { hgetall(key: string): Promise<Record<string, string>> };
  commands: Commands;
  readQueues: () => Promise<AlertReading[]>;
  thresholds?: Partial<AlertThresholds>;
  /** How often to evaluate, in ms; 0 never evaluates on its own (tests call `evaluate`). @default 15000 */
  intervalMs?: number;
  webhook?: AlertWebhook | null;
  /** Sends the notification; the engine passes its SSRF-guarded agent. */
  dispatcher?: Dispatcher;
  /** Each transition this instance announced. */
  onTransition?: (transition: AlertTransition) => void;
  onError?: (error: Error) => void;
}

/** Attempts per notification; a receiver that is down for longer misses it (the alert stays listed). */
const NOTIFY_ATTEMPTS = 3;
const NOTIFY_BACKOFF_MS = 1_000;

function formatMs(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  return ms >= 60_000 ? `${Math.round(ms / 6_000) / 10} min` : `${Math.round(ms / 100) / 10} s`;
}

const percent = (rate: number) => `${Math.round(rate * 1000) / 10} %`;

/** The alerts a reading calls for, with the value each one measured. */
function conditions(reading: AlertReading, gateway: AlertThresholds) {
  const { stats, window } = reading;
  const thresholds = queueThresholds(gateway, reading.queue.alerts);
  const where = `${reading.queue.topic}/${reading.queue.name}`;
  const lag = stats.oldestWaitingAgeMs ?? 0;
  return [
    {
      kind: 'QUEUE_LAG' as const,
      on: thresholds.lagMs > 0,
      value: lag,
      threshold: thresholds.lagMs,
      message: `${where}: the oldest message has waited ${formatMs(lag)} (alert at ${formatMs(thresholds.lagMs)})`,
    },
    {
      kind: 'QUEUE_DEPTH' as const,
      on: thresholds.depth > 0,
      value: stats.waiting,
      threshold: thresholds.depth,
      message: `${where}: ${stats.waiting} messages waiting (alert at ${thresholds.depth})`,
    },
    {
      kind: 'DEAD_LETTERS' as const,
      on: thresholds.deadLetters > 0,
      value: stats.deadLettered,
      threshold: thresholds.deadLetters,
      message: `${where}: ${stats.deadLettered} dead letters (alert at ${thresholds.deadLetters})`,
    },
    {
      kind: 'CIRCUIT_OPEN' as const,
      on: thresholds.circuitOpen && reading.circuit !== null,
      // HALF_OPEN is still not delivering: resolving during each probe would notify on every cool-down.
      value: reading.circuit === 'OPEN' || reading.circuit === 'HALF_OPEN' ? 1 : 0,
      threshold: 1,
      message: `${where}: the webhook endpoint keeps failing; its circuit breaker is open`,
    },
    {
      kind: 'DELIVERY_LATENCY' as const,
      on: thresholds.deliveryLatencyMs > 0,
      // To the 0.1 ms: the histogram is 2 % wide anyway, and a stored value should read as a number.
      value: Math.round(window.latencyP95Ms * 10) / 10,
      threshold: thresholds.deliveryLatencyMs,
      message: `${where}: P95 publish-to-delivered latency is ${formatMs(window.latencyP95Ms)} (alert at ${formatMs(thresholds.deliveryLatencyMs)})`,
    },
    {
      kind: 'FAILURE_RATE' as const,
      on: thresholds.failureRate > 0,
      value: window.failureRate,
      threshold: thresholds.failureRate,
      message: `${where}: ${window.failed} of ${window.attempts} attempts failed, ${percent(window.failureRate)} (alert at ${percent(thresholds.failureRate)})`,
    },
    {
      kind: 'RETRIES' as const,
      on: thresholds.retries > 0,
      value: window.maxAttempt,
      threshold: thresholds.retries,
      message: `${where}: a message needed ${window.maxAttempt} attempts (alert at ${thresholds.retries})`,
    },
  ];
}

function isAlert(value: unknown): value is Alert {
  return typeof value === 'object' && value !== null && typeof (value as Alert).id === 'string';
}

/** Whether a payload (one heard on the alerts channel) is a transition. */
export function isAlertTransition(value: unknown): value is AlertTransition {
  if (typeof value !== 'object' || value === null) return false;
  const { state, alert, at } = value as Partial<AlertTransition>;
  return (state === 'FIRING' || state === 'RESOLVED') && isAlert(alert) && typeof at === 'string';
}

/** Posts a transition to the alerts webhook, retrying what may pass on a later try, until `signal` aborts. */
async function notify(
  options: AlertsOptions,
  transition: AlertTransition,
  signal: AbortSignal,
  onError: (error: Error) => void,
): Promise<void> {
  const webhook = options.webhook;
  if (!webhook) return;
  const id = `alert_${randomUUID()}`;
  const body = JSON.stringify({
    type: `alert.${transition.state.toLowerCase()}`,
    at: transition.at,
    alert: transition.alert,
  });
  for (let attempt = 1; attempt <= NOTIFY_ATTEMPTS && !signal.aborted; attempt += 1) {
    const outcome = await postWebhook({
      url: webhook.url,
      body,
      headers: {
        'content-type': 'application/json',
        ...(webhook.secret ? webhookHeaders([webhook.secret], id, body) : {}),
      },
      timeoutMs: webhook.timeoutMs ?? 5_000,
      dispatcher: options.dispatcher,
    });
    if (outcome.ok) return;
    if (!outcome.retryable || attempt === NOTIFY_ATTEMPTS) {
      // The URL may carry a token in its path (chat webhooks do): only its origin is named.
      onError(new Error(`Alert notification to ${new URL(webhook.url).origin} failed: ${outcome.error}`));
      return;
    }
    await sleep(NOTIFY_BACKOFF_MS * attempt, undefined, { signal }).catch(() => {});
  }
}

/** The alerts firing now, over every instance, oldest first. */
async function listAlerts(options: AlertsOptions): Promise<Alert[]> {
  const stored = await options.client.hgetall(options.keys.alerts);
  const alerts: Alert[] = [];
  for (const json of Object.values(stored)) {
    try {
      const alert: unknown = JSON.parse(json);
      if (isAlert(alert)) alerts.push(alert);
    } catch {
      // Not ours to interpret; the next evaluation rewrites or resolves it.
    }
  }
  return alerts.sort((a, b) => a.since.localeCompare(b.since) || a.id.localeCompare(b.id));
}

/** Stores an alert's state (alert-set-1); answers whether this call changed whether it fires. */
async function setAlert(
  options: AlertsOptions,
  id: string,
  alert: Alert | null,
  value: number,
  message: string,
) {
  const changed = await options.commands.run<number>(
    'alert-set-1',
    [options.keys.alerts],
    [id, alert ? JSON.stringify(alert) : '', String(value), message],
  );
  return changed === 1;
}

/**
 * Checks every condition of every queue read against the thresholds and stores what changed; answers
 * the transitions this instance won (another instance evaluating at once wins the others).
 */
async function transitionsOf(
  options: AlertsOptions,
  thresholds: AlertThresholds,
  readings: readonly AlertReading[],
  firing: readonly Alert[],
): Promise<AlertTransition[]> {
  const byId = new Map(firing.map((alert) => [alert.id, alert]));
  const seen = new Set<string>();
  const transitions: AlertTransition[] = [];
  for (const reading of readings) {
    for (const condition of conditions(reading, thresholds)) {
      const id = `${condition.kind}:${reading.queue.topic}/${reading.queue.name}`;
      seen.add(id);
      const fires = condition.on && condition.value >= condition.threshold;
      if (!fires && !byId.has(id)) continue;
      const alert: Alert = {
        id,
        kind: condition.kind,
        topic: reading.queue.topic,
        queue: reading.queue.name,
        value: condition.value,
        threshold: condition.threshold,
        since: byId.get(id)?.since ?? new Date().toISOString(),
        message: condition.message,
      };
      if (await setAlert(options, id, fires ? alert : null, condition.value, condition.message)) {
        transitions.push({ state: fires ? 'FIRING' : 'RESOLVED', alert, at: new Date().toISOString() });
      }
    }
  }
  // A deleted queue's alerts resolve with it.
  for (const alert of firing) {
    if (seen.has(alert.id)) continue;
    if (await setAlert(options, alert.id, null, 0, '')) {
      transitions.push({ state: 'RESOLVED', alert, at: new Date().toISOString() });
    }
  }
  return transitions;
}

export function createAlerts(options: AlertsOptions) {
  const thresholds = { ...DEFAULT_ALERT_THRESHOLDS, ...options.thresholds };
  const onError = options.onError ?? (() => {});
  const notifications = new Set<Promise<void>>();
  let evaluating: Promise<AlertTransition[]> | null = null;
  const closing = new AbortController();

  function announce(transition: AlertTransition): void {
    options.onTransition?.(transition);
    const sending = notify(options, transition, closing.signal, onError).catch((error: unknown) =>
      onError(error as Error),
    );
    notifications.add(sending);
    void sending.finally(() => notifications.delete(sending));
  }

  async function runEvaluation(): Promise<AlertTransition[]> {
    const [readings, firing] = await Promise.all([options.readQueues(), listAlerts(options)]);
    const transitions = await transitionsOf(options, thresholds, readings, firing);
    for (const transition of transitions) announce(transition);
    return transitions;
  }

  /** Evaluates every queue now; answers the transitions this instance announced. One at a time. */
  function evaluate(): Promise<AlertTransition[]> {
    evaluating ??= runEvaluation().finally(() => {
      evaluating = null;
    });
    return evaluating;
  }

  const intervalMs = options.intervalMs ?? 15_000;
  const timer =
    intervalMs > 0
      ? setInterval(() => {
          evaluate().catch(onError);
        }, intervalMs)
      : null;
  timer?.unref();

  return {
    evaluate,
    /** The alerts firing now, over every instance, oldest first. */
    list: () => listAlerts(options),
    thresholds,
    /** Stops evaluating and waits for notifications already on their way (their retries stop). */
    async close(): Promise<void> {
      closing.abort();
      if (timer) clearInterval(timer);
      await evaluating?.catch(() => {});
      await Promise.allSettled([...notifications]);
    },
  };
}

export type Alerts = ReturnType<typeof createAlerts>;
