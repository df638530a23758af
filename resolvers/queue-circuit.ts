import type { QueueRecord } from '../queues/core/index.js';
import type { Context } from '../schema/builder.js';

export const queueCircuit = (queue: Pick<QueueRecord, 'topic' | 'name'>, ctx: Context) =>
  ctx.engine.circuit(queue.topic, queue.name);
