export {
  createDeadLetters,
  type DeadLetterFilter,
  type DeadLetterPage,
  type DeadLetterRecord,
  type DeadLetterSettings,
  type ReplayResult,
} from './dead-letters.js';
export { parseDeadLetterId } from './ids.js';
