export { canonicalJson } from './canonical-json.js';
export { createPayloadSchemas, type PayloadSchemas } from './payload-schema.js';
export {
  buildMessage,
  createPublisher,
  messageAdd,
  type PublisherOptions,
  type PublishInput,
  type PublishResult,
} from './publisher.js';
