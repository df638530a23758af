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
