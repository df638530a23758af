import { ErrorCode, type MessageRecord, SwitchyardError } from '../core/index.js';
import type { Commands, Keys, RedisClient } from '../redis/index.js';

/** How long an idempotency key stays claimed by a publish that has not finished (crash safety). */
const CLAIM_MS = 10_000;

interface Claimant {
  message: MessageRecord;
}

interface ClaimContext {
  client: RedisClient;
  keys: Keys;
  commands: Commands;
}

/** The answer of a call without idempotency keys, shared: nobody writes into it. */
export const NO_DUPLICATES: ReadonlyMap<number, string> = new Map();

/** Whether any message of the call has an idempotency key, so that {@link claimKeys} has work. */
export const hasIdempotencyKeys = (prepared: readonly Claimant[]): boolean =>
  prepared.some(({ message }) => message.idempotencyKey !== null);

/**
 * Claims the idempotency keys of a publish call in one round trip (`SET NX GET` with a short claim);
 * answers the earlier message id for each duplicate, by index. CONFLICT, with this call's claims
 * released, when another publish of one of the keys is still in progress.
 */
export async function claimKeys<T extends Claimant>(
  context: ClaimContext,
  prepared: readonly T[],
): Promise<ReadonlyMap<number, string>> {
  // Most publishes carry no key: they pay for no maps or pipeline (ioredis builds a sizeable object per pipeline).
  if (!hasIdempotencyKeys(prepared)) return NO_DUPLICATES;
  const { client, keys } = context;
  const duplicates = new Map<number, string>();
  const firstInBatch = new Map<string, number>();
  const claimed: number[] = [];
  const claims: [string, string][] = [];
  prepared.forEach(({ message }, index) => {
    if (message.idempotencyKey === null) return;
    const key = keys.idempotency(message.topic, message.idempotencyKey);
    const earlier = firstInBatch.get(key);
    if (earlier !== undefined) {
      duplicates.set(index, (prepared[earlier] as T).message.id);
      return;
    }
    firstInBatch.set(key, index);
    claimed.push(index);
    claims.push([key, `pending:${message.id}`]);
  });
  if (claims.length === 0) return duplicates;
  const pipeline = client.pipeline();
  for (const [key, marker] of claims) pipeline.call('SET', key, marker, 'PX', CLAIM_MS, 'NX', 'GET');
  const answers = (await pipeline.exec()) ?? [];
  const ours: T[] = [];
  let inProgress: string | null = null;
  for (const [position, [error, previous]] of answers.entries()) {
    if (error) throw error;
    const index = claimed[position] as number;
    const mine = prepared[index] as T;
    if (previous === null) ours.push(mine);
    else if (String(previous).startsWith('pending:')) inProgress = mine.message.idempotencyKey;
    else duplicates.set(index, String(previous));
  }
  if (inProgress !== null) {
    await releaseKeys(context, ours);
    throw new SwitchyardError(
      ErrorCode.Conflict,
      `A publish with idempotency key ${inProgress} is in progress; retry once it has finished`,
    );
  }
  return duplicates;
}

/** Releases the claims of messages that were not stored (only where the claim is still theirs). */
export async function releaseKeys(context: ClaimContext, prepared: readonly Claimant[]): Promise<void> {
  const { keys, commands } = context;
  await Promise.allSettled(
    prepared
      .filter(({ message }) => message.idempotencyKey !== null)
      .map(({ message }) =>
        commands.run<number>(
          'release-claim-1',
          [keys.idempotency(message.topic, message.idempotencyKey as string)],
          [`pending:${message.id}`],
        ),
      ),
  );
}
