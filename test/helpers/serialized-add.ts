import type { SerializedAdd } from '../../queues/redis/bull-add.js';

/** A message's add as the publisher makes it: prioritized unless `priority` is 0, one attempt. */
export const serializedAdd = (jobId: string, priority = 10, data = Buffer.from('{}')): SerializedAdd => ({
  jobId,
  name: 'message',
  data,
  timestamp: Date.now(),
  attempts: 1,
  priority,
  backoffType: 'switchyard',
});
