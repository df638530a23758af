import type { TopicRecord } from '../queues/types.js';
import type { Context } from '../schema/builder.js';

export const topicStats = (topic: Pick<TopicRecord, 'name'>, ctx: Context) =>
  ctx.engine.topicStats(topic.name);
