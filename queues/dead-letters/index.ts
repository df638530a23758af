/**
 * Dead letters: their index, queries, replay, discard and retention.
 * The folder's public face: other folders import it only through this file.
 */
export {
  createDeadLetters,
  type DeadLetterFilter,
  type DeadLetterPage,
  type DeadLetterRecord,
  type DeadLetterSettings,
  type ReplayOptions,
  type ReplayResult,
} from './dead-letters.js';
export { parseDeadLetterId } from './ids.js';
