import type { TopicRecord } from '../queues/core/index.js';
import type { Context } from './context.js';

export const topicStats = (topic: Pick<TopicRecord, 'name'>, ctx: Context) =>
  ctx.engine.topicStats(topic.name);
