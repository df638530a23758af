import type { QueueRecord } from '../queues/core/index.js';
import type { Context } from './context.js';

export const queueStats = (queue: Pick<QueueRecord, 'topic' | 'name'>, ctx: Context) =>
  ctx.engine.queueStats(queue);
