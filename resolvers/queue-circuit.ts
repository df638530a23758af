import type { QueueRecord } from '../queues/core/index.js';
import type { Context } from './context.js';

export const queueCircuit = (queue: Pick<QueueRecord, 'topic' | 'name'>, ctx: Context) =>
  ctx.engine.circuit(queue.topic, queue.name);
