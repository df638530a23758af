import type { Scenario } from '../scenario.js';
import { consumerPull } from './consumer-pull.js';
import { endToEnd } from './end-to-end.js';
import { fanout } from './fanout.js';
import { ingestBatch } from './ingest-batch.js';
import { ingestSingle } from './ingest-single.js';
import { latency } from './latency.js';
import { memory } from './memory.js';
import { orderingKeys } from './ordering-keys.js';
import { requestReply } from './request-reply.js';
import { retry } from './retry.js';
import { topicHistory } from './topic-history.js';

/** Every scenario, in the order. */
export const SCENARIOS: readonly Scenario[] = [
  ingestSingle,
  ingestBatch,
  endToEnd,
  fanout,
  latency,
  consumerPull,
  retry,
  memory,
  requestReply,
  orderingKeys,
  topicHistory,
];
