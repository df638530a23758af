import type { TopicRecord } from '../queues/core/index.js';
import type { Context } from './context.js';

export const topicHistoryInfo = (topic: TopicRecord, ctx: Context) => ctx.engine.topicHistoryInfo(topic);
