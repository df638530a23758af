/**
 * Publishing: checking and building messages, routing them, and group-committing the adds.
 * The folder's public face: other folders import it only through this file.
 */
export { canonicalJson } from './canonical-json.js';
export { createPayloadSchemas, type PayloadSchemas } from './payload-schema.js';
export {
  buildMessage,
  createPublisher,
  type LiveWrites,
  messageAdd,
  type PublisherOptions,
  type PublishInput,
  type PublishResult,
} from './publisher.js';
export {
  chainEntry,
  headHash,
  type PublishedRecord,
  parseEntry,
  publishedEntry,
  readHeads,
  readLinks,
  readTrails,
  readWholeTrails,
  storedEntry,
  TRAIL_ACTIONS,
  TRAIL_LAYOUT,
  TRAIL_RETENTION_MS,
  type TrailAction,
  type TrailBreak,
  type TrailEntry,
  type TrailLink,
  type TrailStep,
  trailHash,
  trailTtl,
  verifyTrail,
} from './trail.js';
