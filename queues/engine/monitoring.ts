import { createLiveAlerts } from '../live/index.js';
import {
  type AlertTransition,
  createAlerts,
  createAlertWindow,
  createMetrics,
  isAlertTransition,
  NO_WINDOW_FIGURES,
  type QueueReading,
  queueStats,
} from '../stats/index.js';
import type { EngineOptions } from './options.js';
import type { Parts } from './parts.js';

/** Redis health, every queue's readings, built-in alerts (with their window and stream) and Prometheus metrics. */
export function createMonitoring(parts: Parts, options: EngineOptions, onError: (error: Error) => void) {
  const { client, keys, commands, registry, circuit } = parts;
  async function redisHealthy(): Promise<boolean> {
    try {
      return client.status === 'ready' && (await client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }
  /** Every queue's depths, lag and circuit: what a metrics scrape and an alert evaluation read. */
  async function readQueues(): Promise<QueueReading[]> {
    const table = await registry.table();
    const queues = table.topics().flatMap((topic) => table.queues(topic.name));
    return Promise.all(
      queues.map(async (queue) => ({
        queue,
        stats: await queueStats(parts.bullQueue(queue), commands, parts.webhooks.concurrencyOf(queue)),
        circuit: queue.target === 'WEBHOOK' ? (await circuit.state(queue.topic, queue.name)).state : null,
      })),
    );
  }
  const window = createAlertWindow({
    client,
    keys,
    events: parts.events,
    windowMs: options.alerts?.windowMs,
    flushMs: options.alerts?.flushMs,
    onError,
  });
  const liveAlerts = createLiveAlerts<AlertTransition>({
    client,
    pubsub: parts.live.pubsub,
    channel: keys.live.alerts,
    accept: isAlertTransition,
    onError,
  });
  const evaluator = createAlerts({
    keys,
    client,
    commands,
    // This instance's counts go to Redis first; the others' are at most their flush interval behind.
    async readQueues() {
      await window.flush();
      const readings = await readQueues();
      const figures = await window.read(readings.map(({ queue }) => queue));
      return readings.map((reading, index) => ({ ...reading, window: figures[index] ?? NO_WINDOW_FIGURES }));
    },
    thresholds: options.alerts?.thresholds,
    intervalMs: options.alerts?.intervalMs,
    webhook: options.alerts?.webhook,
    dispatcher: parts.security.agent,
    onTransition(transition) {
      liveAlerts.announce(transition);
      options.alerts?.onTransition?.(transition);
    },
    onError,
  });
  const alerts = {
    ...evaluator,
    /** Transitions announced by any instance from now on (Subscription.alerts). */
    stream: liveAlerts.stream,
    /** Stops evaluating, adds the last counts to the window and ends the streams. */
    async close(): Promise<void> {
      await evaluator.close();
      await window.close();
      liveAlerts.close();
    },
  };
  const metrics = createMetrics({
    events: parts.events,
    replies: parts.replies,
    losses: parts.losses,
    publisher: parts.publisher,
    redisUp: redisHealthy,
    processMetrics: options.processMetrics,
    readQueues,
    firingAlerts: alerts.list,
  });
  return { redisHealthy, alerts, metrics };
}

export type Monitoring = ReturnType<typeof createMonitoring>;
