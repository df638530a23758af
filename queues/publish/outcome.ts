import {
  ErrorCode,
  type MessageRecord,
  type QueueRecord,
  SwitchyardError,
  type TopicHistorySettings,
} from '../core/index.js';
import type { Keys, RedisClient } from '../redis/index.js';

/**
 * Whether Redis may have run a command whose answer never came: the connection dropped after it was
 * sent. "Stream isn't writeable" (enableOfflineQueue: false) means it was never sent, and a reply
 * error means Redis refused it; both are certain, and nothing was written.
 */
export function outcomeUnknown(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return /Connection is closed|Reached the max retries per request|ECONNRESET|EPIPE|ETIMEDOUT|Command timed out/.test(
    error.message,
  );
}

/** How long a publish whose answer was lost waits for Redis to come back and say whether it was stored. */
export const SETTLE_TIMEOUT_MS = 2_000;
const SETTLE_POLL_MS = 50;
/** How far before its publishedAt a message's history entry is looked for (the stream id is Redis' clock). */
const HISTORY_SKEW_MS = 60_000;
/** The most history entries one settlement reads. */
const HISTORY_PROBE = 1_000;

interface Written {
  message: MessageRecord;
  queues: QueueRecord[];
  history: TopicHistorySettings | null;
}

/** What Redis holds of a call whose answer was lost: stored, certainly not stored, or no telling. */
type Evidence = 'stored' | 'absent' | 'unknown';

const unknownOutcome = (why: string) =>
  new SwitchyardError(
    ErrorCode.Unavailable,
    `${why}: retry with the same idempotencyKey to publish it exactly once`,
    { outcome: 'UNKNOWN' },
  );

/**
 * Reads, in one pipeline, the records the call's publish-commit writes with its messages: a job of
 * each routed message (in its first queue), each idempotency key, and the history entry of the first
 * message whose topic keeps one. Any of them there: stored. An idempotency key still holding this
 * call's own claim: not stored (the call replaces the claim with the message id in the same script).
 * Otherwise nothing can tell: a job absent may have been delivered and removed since.
 */
async function evidence(client: RedisClient, keys: Keys, written: readonly Written[]): Promise<Evidence> {
  const pipeline = client.pipeline();
  const checks: ((answer: unknown) => Evidence | null)[] = [];
  for (const { message, queues } of written) {
    const [queue] = queues;
    if (queue) {
      pipeline.exists(keys.bull(queue.topic, queue.name).job(message.id));
      checks.push((answer) => (Number(answer) === 1 ? 'stored' : null));
    }
    if (message.idempotencyKey !== null) {
      pipeline.get(keys.idempotency(message.topic, message.idempotencyKey));
      checks.push((answer) => {
        if (answer === message.id) return 'stored';
        return answer === `pending:${message.id}` ? 'absent' : null;
      });
    }
  }
  const kept = written.find(({ history }) => history !== null);
  if (kept) {
    const from = Math.max(0, Date.parse(kept.message.publishedAt) - HISTORY_SKEW_MS);
    pipeline.xrange(keys.topicHistory(kept.message.topic), String(from), '+', 'COUNT', HISTORY_PROBE);
    const needle = `{"id":${JSON.stringify(kept.message.id)}`;
    checks.push((answer) =>
      (answer as [string, string[]][]).some(([, fields]) => fields.some((field) => field.startsWith(needle)))
        ? 'stored'
        : null,
    );
  }
  const answers = (await pipeline.exec()) ?? [];
  const found = answers.map(([error, answer], index) => {
    if (error) throw error;
    return checks[index]?.(answer) ?? null;
  });
  if (found.includes('stored')) return 'stored';
  return found.includes('absent') ? 'absent' : 'unknown';
}

/**
 * After an answer lost in transit: was the publish call stored? Each call is all or nothing
 * (publish-commit), so any record one of its messages left tells for all (`evidence`). Answers true
 * or false once Redis answers again; throws UNAVAILABLE with outcome UNKNOWN when it does not within
 * SETTLE_TIMEOUT_MS, or when nothing it holds can tell (a message no queue and no history kept leaves
 * no record at all).
 */
export async function wasStored(
  client: RedisClient,
  keys: Keys,
  written: readonly Written[],
): Promise<boolean> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    if (client.status === 'ready') {
      let found: Evidence | null = null;
      try {
        found = await evidence(client, keys, written);
      } catch {
        // Gone again: keep trying until the deadline.
      }
      if (found === 'stored' || found === 'absent') return found === 'stored';
      if (found === 'unknown') {
        throw unknownOutcome(
          'Redis lost its answer to this publish, and nothing it holds now says whether it was stored',
        );
      }
    }
    if (Date.now() >= deadline) {
      throw unknownOutcome(
        'Redis went away while this publish was being stored, and did not come back to say whether it was',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
  }
}
