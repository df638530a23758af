import type { TopicRecord } from '../queues/core/index.js';
import type { Context } from './context.js';

export const topicQueues = (topic: Pick<TopicRecord, 'name'>, ctx: Context) => ctx.engine.queues(topic.name);
