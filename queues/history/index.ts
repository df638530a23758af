/**
 * Topic history: reading the stream publish-commit writes in each publish's own call.
 * The folder's public face: other folders import it only through this file.
 */
export {
  createHistory,
  cursorAfter,
  type History,
  type HistoryEdge,
  type HistoryInfo,
  type HistoryPage,
  type HistoryStart,
  MAX_HISTORY_PAGE,
  parseCursor,
} from './history.js';
export {
  createReplayTasks,
  MAX_REPLAY_RATE,
  REPLAY_TASK_STATES,
  type ReplayTaskRecord,
  type ReplayTaskState,
  type ReplayTasks,
  type ReplayTasksOptions,
  type ReplayTopicInput,
} from './replay-tasks.js';
