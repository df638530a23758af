import { createAlerts, createMetrics, type QueueReading, queueStats } from '../stats/index.js';
import type { EngineOptions } from './options.js';
import type { Parts } from './parts.js';

/** Redis health, every queue's readings, built-in alerts and Prometheus metrics. */
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
        stats: await queueStats(parts.bullQueue(queue), commands),
        circuit: queue.target === 'WEBHOOK' ? (await circuit.state(queue.topic, queue.name)).state : null,
      })),
    );
  }
  const alerts = createAlerts({
    keys,
    client,
    commands,
    readQueues,
    thresholds: options.alerts?.thresholds,
    intervalMs: options.alerts?.intervalMs,
    webhook: options.alerts?.webhook,
    dispatcher: parts.security.agent,
    onTransition: options.alerts?.onTransition,
    onError,
  });
  const metrics = createMetrics({
    events: parts.events,
    redisUp: redisHealthy,
    processMetrics: options.processMetrics,
    readQueues,
    firingAlerts: alerts.list,
  });
  return { redisHealthy, alerts, metrics };
}

export type Monitoring = ReturnType<typeof createMonitoring>;
