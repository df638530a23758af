import { describe, expect, it } from 'vitest';
import { useEngineHarness } from '../engine/harness.js';
import { refusal, SCOPED_ADMIN_KEY, startScopedApp } from './scoped-app.js';

const harness = useEngineHarness();

interface Created {
  createApiKey: { secret: string; key: { id: string; name: string; scopes: string[]; lastUsedAt: null } };
}

describe('API keys over GraphQL', () => {
  it('should create a key answering its secret once, list it without secrets, and revoke it', async () => {
    const app = await startScopedApp(harness);
    const created = await app.ask(
      'mutation { createApiKey(name: "billing", scopes: ["publish:orders.*", "stats"]) { secret key { id name scopes lastUsedAt } } }',
      {},
      SCOPED_ADMIN_KEY,
    );
    const { secret, key } = (created.data as unknown as Created).createApiKey;
    expect(secret).toMatch(/^sy_[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({ name: 'billing', scopes: ['publish:orders.*', 'stats'], lastUsedAt: null });
    expect((await app.ask('{ stats { windowMs } }', {}, secret)).errors).toBeUndefined();

    const listed = await app.ask('{ apiKeys { id name scopes createdAt lastUsedAt } }', {}, SCOPED_ADMIN_KEY);
    expect(listed.data?.apiKeys).toEqual([
      expect.objectContaining({ id: key.id, name: 'billing', lastUsedAt: expect.any(String) }),
    ]);
    expect(JSON.stringify(listed)).not.toContain(secret);

    const revoke = 'mutation ($id: ID!) { revokeApiKey(id: $id) }';
    expect(await app.ask(revoke, { id: key.id }, SCOPED_ADMIN_KEY)).toEqual({ data: { revokeApiKey: true } });
    expect(await app.ask(revoke, { id: key.id }, SCOPED_ADMIN_KEY)).toEqual({
      data: { revokeApiKey: false },
    });
    expect(refusal(await app.ask('{ stats { windowMs } }', {}, secret)).code).toBe('UNAUTHENTICATED');
  });

  it('should refuse a bad scope with BAD_USER_INPUT naming it, and create nothing', async () => {
    const app = await startScopedApp(harness);
    const answer = await app.ask(
      'mutation { createApiKey(name: "x", scopes: ["stats", "publish:orders*"]) { secret } }',
      {},
      SCOPED_ADMIN_KEY,
    );
    const { code, message } = refusal(answer);
    expect(code).toBe('BAD_USER_INPUT');
    expect(message).toMatch(/^scopes\[1\] "publish:orders\*"/);
    expect(await app.engine.apiKeys.list()).toEqual([]);
  });
});

describe('rotateSigningSecret over GraphQL', () => {
  it('should answer the queue with a new secret, keeping the old one signing', async () => {
    const app = await startScopedApp(harness);
    const before = await app.engine.queue('orders.eu', 'hook');
    const answer = await app.ask(
      'mutation { rotateSigningSecret(topic: "orders.eu", name: "hook") { name signingSecret } }',
      {},
      SCOPED_ADMIN_KEY,
    );
    const rotated = (answer.data?.rotateSigningSecret ?? {}) as { signingSecret?: string };
    expect(rotated.signingSecret).toMatch(/^whsec_/);
    expect(rotated.signingSecret).not.toBe(before?.signingSecret);
    const after = await app.engine.queue('orders.eu', 'hook');
    expect(after?.previousSigningSecrets?.map((old) => old.secret)).toEqual([before?.signingSecret]);
    const missing = await app.ask(
      'mutation { rotateSigningSecret(topic: "orders.eu", name: "nope") { name } }',
      {},
      SCOPED_ADMIN_KEY,
    );
    expect(refusal(missing).code).toBe('NOT_FOUND');
  });
});
