import { ErrorCode, type MessageRecord, SwitchyardError } from '../core/index.js';
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

interface Written {
  message: MessageRecord;
}

/**
 * After an answer lost in transit: was the publish call stored? Each call is all or nothing
 * (publish-commit), so the trail its first message starts tells for all (docs/PROVENANCE.md), routed
 * or not; answers true or false once Redis answers again, or throws UNAVAILABLE saying the outcome is
 * unknown when it does not within SETTLE_TIMEOUT_MS.
 */
export async function wasStored(
  client: RedisClient,
  keys: Keys,
  written: readonly Written[],
): Promise<boolean> {
  const [probe] = written;
  if (!probe) return false;
  const trailKey = keys.trail(probe.message.topic, probe.message.id);
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    if (client.status === 'ready') {
      try {
        return (await client.exists(trailKey)) === 1;
      } catch {
        // Gone again: keep trying until the deadline.
      }
    }
    if (Date.now() >= deadline) {
      throw new SwitchyardError(
        ErrorCode.Unavailable,
        'Redis went away while this publish was being stored, and did not come back to say whether it was: ' +
          'retry with the same idempotencyKey to publish it exactly once',
        { outcome: 'UNKNOWN' },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
  }
}
