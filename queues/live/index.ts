/**
 * Live streams over Redis pub/sub: messages, delivery events, stats and alerts, with bounded buffers.
 * The folder's public face: other folders import it only through this file.
 */
export { createLiveAlerts, type LiveAlerts } from './alerts.js';
export { createLiveBuffer, type LiveBuffer } from './buffer.js';
export { type LiveDeliveryEvent, type LiveMessage, publishedEvent } from './events.js';
export { mapLive } from './iterator.js';
export { createLive, type LiveOptions } from './live.js';
export type { StatsSnapshot } from './stats.js';
export { histogramPercentile, latencyBucket } from './stats-window.js';
