/**
 * Queue and topic counters, built-in alerts and their per-queue window, and Prometheus metrics.
 * The folder's public face: other folders import it only through this file.
 */
export {
  type AlertWindow,
  type AlertWindowFigures,
  createAlertWindow,
  NO_WINDOW_FIGURES,
} from './alert-window.js';
export {
  ALERT_KINDS,
  type Alert,
  type AlertThresholds,
  type AlertTransition,
  type AlertWebhook,
  createAlerts,
  DEFAULT_ALERT_THRESHOLDS,
  isAlertTransition,
  queueThresholds,
} from './alerts.js';
export { createMetrics, type QueueReading } from './metrics.js';
export { type QueueStats, queueBacklog, queueStats, type TopicStats, topicCounters } from './stats.js';
