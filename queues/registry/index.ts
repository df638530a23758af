/**
 * Topics and queues as stored in Redis, and the routing table that matches messages to queues.
 * The folder's public face: other folders import it only through this file.
 */
export {
  type CreateQueueInput,
  type CreateTopicInput,
  createRegistry,
  type QueueSettingsInput,
  type Registry,
  type RoutingTable,
} from './registry.js';
export {
  type CompiledPattern,
  compileTopicPattern,
  headersMatch,
  matchCompiled,
  validateBinding,
} from './router.js';
export type { TopicRouting } from './topic-routing.js';
