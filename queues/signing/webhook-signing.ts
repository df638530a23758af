/**
 * Standard Webhooks signing (https://www.standardwebhooks.com), so receivers can verify our
 * deliveries with any of the official libraries.
 */
import { createHmac, randomBytes, randomInt } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';
const SIGNATURE_VERSION = 'v1';
/** The spec asks for secrets of 24 to 64 bytes; we stay in 24..32 to keep headers and configs short. */
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 32;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The three headers every signed delivery carries. */
export interface WebhookSignatureHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** A fresh `whsec_…` secret: base64 of 24 to 32 random bytes. */
export function generateSigningSecret(): string {
  const size = randomInt(MIN_SECRET_BYTES, MAX_SECRET_BYTES + 1);
  return `${SECRET_PREFIX}${randomBytes(size).toString('base64')}`;
}

/**
 * The HMAC key behind a secret. Buffer's base64 decoder silently skips junk, which would turn a
 * mistyped secret into a different key and every signature into a mystery, so we refuse instead.
 * The bare base64 form (without `whsec_`) is accepted too, as the official libraries do.
 */
function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
  if (key.length === 0) throw new Error('Signing secret is not valid non-empty base64');
  return key;
}

function signOne(secret: string, content: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(content, 'utf8').digest('base64');
  return `${SIGNATURE_VERSION},${mac}`;
}

/**
 * The `webhook-signature` header value: one `v1,<base64 mac>` per secret, space separated, so that
 * during a key rotation a receiver holding either the old or the new secret can verify.
 */
export function signWebhook(secrets: string[], id: string, timestampSeconds: number, body: string): string {
  if (secrets.length === 0) throw new Error('At least one signing secret is required');
  // The signed timestamp must be byte-identical to the header, which only holds whole seconds.
  if (!Number.isSafeInteger(timestampSeconds)) throw new Error('The timestamp must be whole seconds');
  const content = `${id}.${timestampSeconds}.${body}`;
  return secrets.map((secret) => signOne(secret, content)).join(' ');
}

/**
 * The headers for one delivery attempt. Sign afresh for every attempt: receivers reject
 * timestamps older than a few minutes, and retries can come much later.
 * @param now The signing time in ms since the epoch. @default Date.now()
 */
export function webhookHeaders(
  secrets: string[],
  id: string,
  body: string,
  now: number = Date.now(),
): WebhookSignatureHeaders {
  const timestamp = Math.floor(now / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(secrets, id, timestamp, body),
  };
}
