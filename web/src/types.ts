/** The slices of the gateway's schema (schema.graphql) that the dashboard asks for. */
export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  deadLettered: number;
  /** The queue's lag: how long its oldest deliverable message has waited; null when none waits. */
  oldestWaitingAgeMs: number | null;
}

export interface QueueSummary {
  topic: string;
  name: string;
  target: 'WEBHOOK' | 'CONSUMER';
  paused: boolean;
  stats: QueueCounts;
}

export interface Stats {
  at: string;
  publishedPerSecond: number;
  deliveredPerSecond: number;
  failedPerSecond: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  latencyP99Ms: number;
  deadLettered: number;
  queues: QueueSummary[];
}

export const FAILURE_REASONS = [
  'VALIDATION',
  'PROCESSING',
  'TIMEOUT',
  'DEPENDENCY',
  'REJECTED',
  'EXPIRED',
  'CIRCUIT_OPEN',
  'UNKNOWN',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];
