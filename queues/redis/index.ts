/**
 * Redis itself: every key name (keys.ts), our Lua commands, BullMQ adds, group commit, queue
 * handles, pub/sub.
 * The folder's public face: other folders import it only through this file.
 */
export { addSerialized, MAX_ADDS_PER_COMMAND, type SerializedAdd } from './bull-add.js';
export { answers, type CommandName, type Commands, defineCommands, queueCommand } from './commands/index.js';
export {
  type ClusterNode,
  type ConnectionOptions,
  execGrouped,
  isCluster,
  openRedis,
  type RedisClient,
  type RedisTarget,
} from './connection.js';
export { corked } from './corked.js';
export {
  CommitRefusedError,
  createGroupCommit,
  type GroupCommit,
  MAX_TRANSACTION_ADDS,
  RoutingMovedError,
} from './group-commit.js';
export {
  type BullKeys,
  createKeys,
  type Keys,
  type LiveChannels,
  type OrderingKeys,
  type ReplayTaskKeys,
} from './keys.js';
export { createOrdering, type OrderedJob, type Ordering, PARK_MS } from './ordering.js';
export { PublishCommit, ROUTING_MOVED, type RunPublishCommit, TRAIL_MOVED } from './publish-commit.js';
export { createPubSub, type PubSub } from './pubsub.js';
export { createQueueHandles, type QueueHandles } from './queue-handles.js';
