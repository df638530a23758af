/**
 * Signing secret rotation, as Standard Webhooks allows it: after a rotation the old secret keeps
 * signing beside the new one for a grace period, so a receiver can move to the new secret at its own
 * pace without a single delivery failing verification. Pure functions; the registry stores the result.
 */
import type { PreviousSigningSecret, QueueRecord } from '../core/index.js';
import { generateSigningSecret } from './webhook-signing.js';

/** Old secrets signing at once, at most: each adds a signature to every delivery's header. */
export const MAX_PREVIOUS_SIGNING_SECRETS = 4;

type Secrets = Pick<QueueRecord, 'signingSecret' | 'previousSigningSecrets'>;

const unexpired = (secrets: PreviousSigningSecret[] | undefined, now: number) =>
  (secrets ?? []).filter((previous) => Date.parse(previous.expiresAt) > now);

/** The secrets a delivery is signed with now: the current one first, then every unexpired old one. */
export function activeSigningSecrets(queue: Secrets, now: number = Date.now()): string[] {
  if (!queue.signingSecret) return [];
  return [queue.signingSecret, ...unexpired(queue.previousSigningSecrets, now).map((old) => old.secret)];
}

/**
 * A queue's secrets after a rotation: a fresh current secret, the old current one signing until
 * `now + graceMs`, expired old ones dropped, and only the newest {@link MAX_PREVIOUS_SIGNING_SECRETS} kept.
 */
export function rotateSecrets(
  queue: Secrets,
  graceMs: number,
  now: number = Date.now(),
): Required<{ [K in keyof Secrets]: NonNullable<Secrets[K]> }> {
  const previous = unexpired(queue.previousSigningSecrets, now);
  if (queue.signingSecret && graceMs > 0) {
    previous.unshift({ secret: queue.signingSecret, expiresAt: new Date(now + graceMs).toISOString() });
  }
  return {
    signingSecret: generateSigningSecret(),
    previousSigningSecrets: previous.slice(0, MAX_PREVIOUS_SIGNING_SECRETS),
  };
}
