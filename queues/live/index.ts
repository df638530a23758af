/**
 * Live streams over Redis pub/sub: messages, delivery events and stats, with bounded buffers.
 * The folder's public face: other folders import it only through this file.
 */
export { createLiveBuffer, type LiveBuffer } from './buffer.js';
export type { LiveDeliveryEvent, LiveMessage } from './events.js';
export { mapLive } from './iterator.js';
export { createLive, type LiveOptions } from './live.js';
export type { StatsSnapshot } from './stats.js';
