/**
 * The slices of the gateway's schema that the dashboard shows, taken from the types GraphQL Code
 * Generator writes from schema.graphql (`npm run codegen`), so a schema change that drops or retypes
 * a field the dashboard reads fails `tsc -p web/tsconfig.json` instead of the page.
 */
import {
  FailureReason,
  type Queue,
  type QueueStats,
  type Stats as SchemaStats,
} from '../../client/generated/schema.js';

export type { FailureReason };

export type QueueCounts = Pick<
  QueueStats,
  'waiting' | 'active' | 'delayed' | 'failed' | 'deadLettered' | 'oldestWaitingAgeMs'
>;

export type QueueSummary = Pick<Queue, 'topic' | 'name' | 'target' | 'paused'> & { stats: QueueCounts };

export type Stats = Pick<
  SchemaStats,
  | 'at'
  | 'publishedPerSecond'
  | 'deliveredPerSecond'
  | 'failedPerSecond'
  | 'latencyP50Ms'
  | 'latencyP95Ms'
  | 'latencyP99Ms'
  | 'deadLettered'
> & { queues: QueueSummary[] };

/** Every failure reason, in the schema's order: the dead-letter filter offers them all. */
export const FAILURE_REASONS: readonly FailureReason[] = Object.values(FailureReason);
