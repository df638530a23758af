/**
 * API keys: created with a name and scopes, answered with their secret once, stored only as the
 * secret's SHA-256. A secret is 32 random bytes, so a fast hash is enough: nothing can be guessed
 * from it, and authenticating stays one HGET.
 */

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { badInput, LIMITS, MINUTE } from '../core/index.js';
import type { Keys, RedisClient } from '../redis/index.js';
import { validateScopes } from './scopes.js';

/** Secrets look like `sy_<43 base64url characters>`: a prefix that secret scanners can look for. */
const SECRET_PREFIX = 'sy_';
const SECRET_BYTES = 32;
const SECRET_SHAPE = /^sy_[A-Za-z0-9_-]{43}$/;
/** Past this many keys remembered, the lastUsedAt throttle forgets them all rather than grow. */
const MAX_TRACKED_KEYS = 10_000;

/** An API key as it is listed: never its secret. */
export interface ApiKey {
  id: string;
  name: string;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
}

/** What `createApiKey` answers: the only time the secret is ever shown. */
export interface CreatedApiKey {
  key: ApiKey;
  secret: string;
}

/**
 * Who is calling, as the auth layer resolved it for one request or websocket connection.
 * `key` is null for a loopback caller served without a key (protected mode, see docs/SECURITY.md).
 */
export interface Caller {
  key: ApiKey | null;
  /** True for the admin key, for keys with scope `admin`, and for loopback callers in protected mode. */
  admin: boolean;
  /** The request came from a loopback address. */
  loopback: boolean;
  scopes: string[];
}

interface StoredKey {
  id: string;
  name: string;
  scopes: string[];
  createdAt: string;
  /**
   * Creation order (INCR), so two keys created in the same millisecond still list in order. Absent
   * from keys stored before it existed, which are older than any key that has one.
   */
  seq?: number;
  /** SHA-256 (hex) of the secret; what revocation deletes from the hash index. */
  hash: string;
}

/** Oldest first: by creation sequence, then (keys without one) by creation time, then by id. */
function creationOrder(a: StoredKey, b: StoredKey): number {
  const bySeq = (a.seq ?? 0) - (b.seq ?? 0);
  if (bySeq !== 0) return bySeq;
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface ApiKeysOptions {
  client: RedisClient;
  /** A client in subscriber mode (the registry's), for revocations announced by other instances. */
  subscriber: RedisClient;
  keys: Keys;
  /**
   * How often one instance writes a key's lastUsedAt at most, in ms: a busy key costs one HSET a
   * minute, not one per request.
   * @default 60000 (1 minute)
   */
  lastUsedIntervalMs?: number;
  /** Where a failed lastUsedAt write goes; it never fails the request. @default ignored */
  onError?: (error: Error) => void;
}

/** The hex SHA-256 under which a secret is looked up. */
export const hashSecret = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('hex');

/** A fresh secret: `sy_` and 32 random bytes in base64url. */
export const generateApiKeySecret = () =>
  `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString('base64url')}`;

function assertKeyName(name: string): void {
  // Control characters would let a key's name forge lines in logs and the audit trail.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  if (name.trim().length === 0 || name.length > LIMITS.nameLength || /[\u0000-\u001f\u007f]/.test(name)) {
    throw badInput(`name must be 1 to ${LIMITS.nameLength} printable characters`, { field: 'name' });
  }
}

const publicKey = (stored: StoredKey, lastUsedAt: string | null): ApiKey => ({
  id: stored.id,
  name: stored.name,
  scopes: stored.scopes,
  createdAt: stored.createdAt,
  lastUsedAt,
});

/** Creates a key; the answer holds its secret, which is stored nowhere. */
async function createKey(
  { client, keys }: ApiKeysOptions,
  name: string,
  scopes: readonly string[],
): Promise<CreatedApiKey> {
  assertKeyName(name);
  const checked = validateScopes(scopes);
  const secret = generateApiKeySecret();
  const seq = await client.incr(keys.apiKeySequence);
  const stored: StoredKey = {
    id: randomUUID(),
    name,
    scopes: checked,
    createdAt: new Date().toISOString(),
    seq,
    hash: hashSecret(secret),
  };
  const json = JSON.stringify(stored);
  const answers = await client
    .multi()
    .hset(keys.apiKeys, stored.id, json)
    .hset(keys.apiKeyHashes, stored.hash, json)
    .exec();
  for (const [error] of answers ?? []) if (error) throw error;
  return { key: publicKey(stored, null), secret };
}

/** Every key, oldest first, without secrets. */
async function listKeys({ client, keys }: ApiKeysOptions): Promise<ApiKey[]> {
  const [stored, lastUsed] = await Promise.all([
    client.hgetall(keys.apiKeys),
    client.hgetall(keys.apiKeyLastUsed),
  ]);
  return Object.values(stored)
    .map((json) => JSON.parse(json) as StoredKey)
    .sort(creationOrder)
    .map((key) => publicKey(key, lastUsed[key.id] ?? null));
}

/**
 * Deletes a key and announces it, so every instance ends its open subscriptions. Answers false
 * when there was no such key. The key's next request fails: authentication reads Redis every time.
 */
async function revokeKey({ client, keys }: ApiKeysOptions, id: string): Promise<boolean> {
  const json = await client.hget(keys.apiKeys, id);
  if (!json) return false;
  const stored = JSON.parse(json) as StoredKey;
  const answers = await client
    .multi()
    .hdel(keys.apiKeys, id)
    .hdel(keys.apiKeyHashes, stored.hash)
    .hdel(keys.apiKeyLastUsed, id)
    .publish(keys.apiKeyRevokedChannel, id)
    .exec();
  for (const [error] of answers ?? []) if (error) throw error;
  // Two revocations racing both read the key; only the one whose HDEL removed it reports it.
  return answers?.[0]?.[1] === 1;
}

/** The key store of one engine: every instance on the same Redis and prefix sees the same keys. */
export function createApiKeys(options: ApiKeysOptions) {
  const { client, subscriber, keys } = options;
  const interval = options.lastUsedIntervalMs ?? MINUTE;
  const lastWritten = new Map<string, number>();
  const listeners = new Set<(id: string) => void>();

  const onMessage = (channel: string, id: string) => {
    if (channel !== keys.apiKeyRevokedChannel) return;
    lastWritten.delete(id);
    for (const listener of listeners) {
      try {
        listener(id);
      } catch (error) {
        options.onError?.(error as Error);
      }
    }
  };
  subscriber.on('message', onMessage);
  const subscribed = subscriber.subscribe(keys.apiKeyRevokedChannel);

  function touch(id: string, now: number): void {
    const last = lastWritten.get(id);
    if (last !== undefined && now - last < interval) return;
    if (lastWritten.size >= MAX_TRACKED_KEYS) lastWritten.clear();
    lastWritten.set(id, now);
    client
      .hset(keys.apiKeyLastUsed, id, new Date(now).toISOString())
      .catch((error: Error) => options.onError?.(error));
  }

  return {
    /** Creates a key; the answer holds its secret, which is stored nowhere. */
    create: (name: string, scopes: readonly string[]) => createKey(options, name, scopes),
    /** Every key, oldest first, without secrets. */
    list: () => listKeys(options),
    /**
     * Deletes a key and announces it, so every instance ends its open subscriptions. Answers false
     * when there was no such key. The key's next request fails: authentication reads Redis every time.
     */
    revoke: (id: string) => revokeKey(options, id),
    /**
     * The key a secret belongs to, or null for an unknown, revoked or malformed secret. One HGET;
     * lastUsedAt is written in the background at most once per `lastUsedIntervalMs`.
     */
    async authenticate(secret: string): Promise<ApiKey | null> {
      if (!SECRET_SHAPE.test(secret)) return null;
      const json = await client.hget(keys.apiKeyHashes, hashSecret(secret));
      if (!json) return null;
      const stored = JSON.parse(json) as StoredKey;
      const now = Date.now();
      touch(stored.id, now);
      return publicKey(stored, new Date(now).toISOString());
    },

    /**
     * Calls back with the id of every key revoked on any instance (this one included), within the
     * pub/sub latency. Returns an unsubscribe.
     */
    onRevoked(listener: (id: string) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    /** Resolves once this instance hears revocations from other instances. */
    ready: () => subscribed.then(() => undefined),

    /** Stops listening; the connections belong to the engine. Idempotent. */
    async close(): Promise<void> {
      subscriber.off('message', onMessage);
      listeners.clear();
    },
  };
}

export type ApiKeys = ReturnType<typeof createApiKeys>;
