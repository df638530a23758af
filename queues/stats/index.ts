/**
 * Queue and topic counters, built-in alerts and Prometheus metrics.
 * The folder's public face: other folders import it only through this file.
 */
export {
  ALERT_KINDS,
  type Alert,
  type AlertThresholds,
  type AlertTransition,
  type AlertWebhook,
  createAlerts,
} from './alerts.js';
export { createMetrics, type QueueReading } from './metrics.js';
export { type QueueStats, queueStats, type TopicStats, topicCounters } from './stats.js';
