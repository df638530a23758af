/**
 * Verifying a webhook delivery (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature`). The check is the `standardwebhooks` package's, the specification's reference
 * library, rather than the gateway's own signer in queues/: a receiver then checks our signatures
 * with code we did not write, and needs nothing of the engine.
 */
import { Webhook } from 'standardwebhooks';
import { SwitchyardError } from './errors.js';
import type { ClientMessageFragment } from './generated/graphql.js';

/** The body of a webhook delivery: the message, with the fields of GraphQL's `Message`. */
export type WebhookMessage = ClientMessageFragment;

/** Headers as Node's `IncomingMessage` or fetch's `Request` carries them. */
export type WebhookHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface VerifyWebhookOptions {
  /**
   * The queue's `signingSecret` (`whsec_…`). During a rotation pass both the new and the old one: the
   * gateway signs with both for a grace period, and either may verify.
   */
  secret: string | readonly string[];
  /** The raw request body, exactly as received: re-serialised JSON does not verify. */
  body: string | Uint8Array;
  /** The request's headers; names are matched case-insensitively. */
  headers: WebhookHeaders;
}

const SIGNATURE_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

function header(headers: WebhookHeaders, name: string): string {
  if (headers instanceof Headers) return headers.get(name) ?? '';
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    return typeof value === 'string' ? value : (value?.join(', ') ?? '');
  }
  return '';
}

/**
 * Checks a delivery's signature and age (the library allows five minutes either way) and answers its
 * message. Throws a {@link SwitchyardError} with code `INVALID_SIGNATURE` when no secret verifies it,
 * and `BAD_USER_INPUT` when a secret is not a valid `whsec_…` value. `webhook-id` is the message id on
 * every attempt: use it to drop a retry you already handled.
 */
export function verifyWebhook(options: VerifyWebhookOptions): WebhookMessage {
  const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
  if (secrets.length === 0)
    throw new SwitchyardError('At least one signing secret is required', 'BAD_USER_INPUT');
  const headers = Object.fromEntries(SIGNATURE_HEADERS.map((name) => [name, header(options.headers, name)]));
  const body = typeof options.body === 'string' ? options.body : Buffer.from(options.body);
  let failure: unknown = null;
  for (const secret of secrets) {
    let webhook: Webhook;
    try {
      webhook = new Webhook(secret);
    } catch (error) {
      throw new SwitchyardError('The signing secret is not a valid whsec_… value', 'BAD_USER_INPUT', {
        cause: error,
      });
    }
    try {
      return webhook.verify(body, headers) as WebhookMessage;
    } catch (error) {
      failure = error;
    }
  }
  const reason = failure instanceof Error ? `: ${failure.message}` : '';
  throw new SwitchyardError(`The webhook did not verify${reason}`, 'INVALID_SIGNATURE', { cause: failure });
}
