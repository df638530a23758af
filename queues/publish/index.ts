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
