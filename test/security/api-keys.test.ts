import { describe, expect, it } from 'vitest';
import { hashSecret } from '../../queues/security/api-keys.js';
import { eventually, expectRefusal, useEngineHarness } from '../engine/harness.js';
import { uniquePrefix, waitFor } from '../helpers/redis.js';

const harness = useEngineHarness();

/** Every string value under a prefix, whatever the key's type: where a leaked secret would show. */
async function everythingStored(prefix: string): Promise<string> {
  const redis = harness.redis.client();
  const keys = await redis.keys(`${prefix}:*`);
  const parts: string[] = [];
  for (const key of keys) {
    const type = await redis.type(key);
    if (type === 'string') parts.push((await redis.get(key)) ?? '');
    else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
    else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
    else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
    else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
    parts.push(key);
  }
  redis.disconnect();
  return parts.join('\n');
}

describe('createApiKey', () => {
  it('should answer the secret once and store only its SHA-256', async () => {
    const prefix = uniquePrefix();
    const engine = await harness.engine({ keyPrefix: prefix, runWorkers: false });
    const { key, secret } = await engine.apiKeys.create('billing service', ['publish:orders.*', 'stats']);
    expect(secret).toMatch(/^sy_[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({
      name: 'billing service',
      scopes: ['publish:orders.*', 'stats'],
      lastUsedAt: null,
    });
    expect(Date.parse(key.createdAt)).not.toBeNaN();

    const stored = await everythingStored(prefix);
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(secret.slice(3));
    expect(stored).toContain(hashSecret(secret));
  });

  it('should give every key its own secret and id', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const created = await Promise.all(
      Array.from({ length: 20 }, () => engine.apiKeys.create('k', ['stats'])),
    );
    expect(new Set(created.map((c) => c.secret)).size).toBe(20);
    expect(new Set(created.map((c) => c.key.id)).size).toBe(20);
  });

  it.each([
    ['', ['stats'], /name must be/],
    ['line\nbreak', ['stats'], /name must be/],
    ['x'.repeat(129), ['stats'], /name must be/],
    ['ok', [], /at least one scope/],
    ['ok', ['publish'], /scopes\[0\] "publish" is not a scope/],
  ])(
    'should refuse name %j with scopes %j as BAD_USER_INPUT and store nothing',
    async (name, scopes, message) => {
      const engine = await harness.engine({ runWorkers: false });
      await expectRefusal(engine.apiKeys.create(name, scopes), 'BAD_USER_INPUT', message);
      expect(await engine.apiKeys.list()).toEqual([]);
    },
  );
});

describe('apiKeys (list)', () => {
  it('should list keys oldest first, without secrets or hashes', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const first = await engine.apiKeys.create('first', ['stats']);
    const second = await engine.apiKeys.create('second', ['admin']);
    const listed = await engine.apiKeys.list();
    expect(listed.map((key) => key.name)).toEqual(['first', 'second']);
    expect(listed[0]).toEqual(first.key);
    const text = JSON.stringify(listed);
    expect(text).not.toContain(first.secret);
    expect(text).not.toContain(hashSecret(second.secret));
  });

  it('should list keys in creation order even when many are created within one millisecond', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const names = Array.from({ length: 40 }, (_, index) => `k${index}`);
    // Issued at once: their creation times collide, and ids are random, so only the sequence orders them.
    await Promise.all(names.map((name) => engine.apiKeys.create(name, ['stats'])));
    const listed = await engine.apiKeys.list();
    expect(new Set(listed.map((key) => key.createdAt)).size).toBeLessThan(names.length);
    expect(listed.map((key) => key.name)).toEqual(names);
  });
});

describe('authenticate', () => {
  it('should answer the key of a secret and null for anything else', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const { key, secret } = await engine.apiKeys.create('svc', ['consume:orders']);
    expect(await engine.apiKeys.authenticate(secret)).toMatchObject({
      id: key.id,
      scopes: ['consume:orders'],
    });
    const flipped = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    for (const wrong of [flipped, '', 'sy_', secret.slice(3), `${secret} `, 'Bearer x'.repeat(100)]) {
      expect(await engine.apiKeys.authenticate(wrong)).toBeNull();
    }
  });

  it('should write lastUsedAt on first use and at most once per interval afterwards', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const { key, secret } = await engine.apiKeys.create('svc', ['stats']);
    await engine.apiKeys.authenticate(secret);
    const used = await eventually(async () => (await engine.apiKeys.list())[0]?.lastUsedAt, {
      message: 'lastUsedAt was never written',
    });
    expect(Date.parse(used)).toBeGreaterThanOrEqual(Date.parse(key.createdAt));

    // A marker in Redis that a second write within the minute would overwrite.
    const redis = harness.redis.client();
    await redis.hset(engine.keys.apiKeyLastUsed, key.id, 'marker');
    for (let i = 0; i < 5; i++) await engine.apiKeys.authenticate(secret);
    await engine.apiKeys.list();
    expect(await redis.hget(engine.keys.apiKeyLastUsed, key.id)).toBe('marker');
  });
});

describe('revokeApiKey', () => {
  it('should make the secret fail at once, drop the key from the list, and say false the second time', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const { key, secret } = await engine.apiKeys.create('svc', ['stats']);
    const kept = await engine.apiKeys.create('kept', ['stats']);
    expect(await engine.apiKeys.revoke(key.id)).toBe(true);
    expect(await engine.apiKeys.authenticate(secret)).toBeNull();
    expect((await engine.apiKeys.list()).map((k) => k.id)).toEqual([kept.key.id]);
    expect(await engine.apiKeys.revoke(key.id)).toBe(false);
    expect(await engine.apiKeys.revoke('no-such-key')).toBe(false);
    expect(await engine.apiKeys.authenticate(kept.secret)).not.toBeNull();
  });

  it('should announce a revocation to every instance within a second', async () => {
    const keyPrefix = uniquePrefix();
    const one = await harness.engine({ keyPrefix, runWorkers: false });
    const other = await harness.engine({ keyPrefix, runWorkers: false });
    const heard: string[] = [];
    const stop = other.apiKeys.onRevoked((id) => heard.push(id));
    const { key } = await one.apiKeys.create('svc', ['subscribe:#']);
    const revokedAt = Date.now();
    await one.apiKeys.revoke(key.id);
    await waitFor(() => heard.includes(key.id), {
      timeoutMs: 1_000,
      message: 'the other instance did not hear',
    });
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
    stop();
    const { key: later } = await one.apiKeys.create('svc2', ['stats']);
    const local: string[] = [];
    one.apiKeys.onRevoked((id) => local.push(id));
    await one.apiKeys.revoke(later.id);
    await waitFor(() => local.includes(later.id), {
      timeoutMs: 1_000,
      message: 'this instance did not hear',
    });
    expect(heard).toEqual([key.id]);
  });
});
