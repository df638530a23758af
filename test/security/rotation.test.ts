import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  activeSigningSecrets,
  MAX_PREVIOUS_SIGNING_SECRETS,
  rotateSecrets,
} from '../../queues/signing/secrets.js';
import { eventually, expectRefusal, useEngineHarness } from '../engine/harness.js';
import { headerOf, type ReceivedRequest } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';

const harness = useEngineHarness();

/** Whether a Standard Webhooks verifier holding `secret` accepts the request. */
function verifies(secret: string, request: ReceivedRequest): boolean {
  try {
    new Webhook(secret).verify(request.body, {
      'webhook-id': headerOf(request, 'webhook-id'),
      'webhook-timestamp': headerOf(request, 'webhook-timestamp'),
      'webhook-signature': headerOf(request, 'webhook-signature'),
    });
    return true;
  } catch {
    return false;
  }
}

describe('rotateSecrets (pure)', () => {
  it('should keep the old secret signing until the grace period ends, newest first', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const rotated = rotateSecrets({ signingSecret: 'whsec_b2xk', previousSigningSecrets: [] }, 60_000, now);
    expect(rotated.signingSecret).toMatch(/^whsec_/);
    expect(rotated.previousSigningSecrets).toEqual([
      { secret: 'whsec_b2xk', expiresAt: '2026-01-01T00:01:00.000Z' },
    ]);
    expect(activeSigningSecrets(rotated, now + 59_999)).toEqual([rotated.signingSecret, 'whsec_b2xk']);
    expect(activeSigningSecrets(rotated, now + 60_000)).toEqual([rotated.signingSecret]);
  });

  it('should drop expired secrets and keep at most a few', () => {
    let secrets = {
      signingSecret: 'whsec_MA==',
      previousSigningSecrets: [] as { secret: string; expiresAt: string }[],
    };
    for (let i = 0; i < 10; i++) secrets = rotateSecrets(secrets, 60_000, 1_000 + i);
    expect(secrets.previousSigningSecrets).toHaveLength(MAX_PREVIOUS_SIGNING_SECRETS);
    expect(rotateSecrets(secrets, 60_000, 10_000_000).previousSigningSecrets).toHaveLength(1);
    expect(rotateSecrets(secrets, 0, 2_000).previousSigningSecrets).toHaveLength(
      MAX_PREVIOUS_SIGNING_SECRETS,
    );
  });
});

describe('rotateSigningSecret', () => {
  it('should sign with the old and the new secret during the grace period, then with the new only', async () => {
    const graceMs = 1_500;
    const engine = await harness.engine({ signingSecretGraceMs: graceMs });
    const receiver = await harness.receiver();
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    const created = await engine.createQueue({
      topic: 'orders',
      name: 'billing',
      target: 'WEBHOOK',
      url: receiver.url,
    });
    const old = created.signingSecret ?? '';

    const rotated = await engine.rotateSigningSecret('orders', 'billing');
    const fresh = rotated.signingSecret ?? '';
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(old);
    expect(rotated.previousSigningSecrets).toEqual([{ secret: old, expiresAt: expect.any(String) }]);
    expect((await engine.queue('orders', 'billing'))?.signingSecret).toBe(fresh);

    await engine.publish({ topic: 'orders', payload: { n: 1 } });
    const during = await eventually(() => receiver.requests[0], {
      message: 'no delivery during the grace period',
    });
    expect(headerOf(during, 'webhook-signature').split(' ')).toHaveLength(2);
    expect(verifies(old, during)).toBe(true);
    expect(verifies(fresh, during)).toBe(true);

    const expiresAt = Date.parse(rotated.previousSigningSecrets?.[0]?.expiresAt ?? '');
    await waitFor(() => Date.now() > expiresAt, { timeoutMs: graceMs + 1_000 });
    await engine.publish({ topic: 'orders', payload: { n: 2 } });
    const after = await eventually(() => receiver.requests[1], {
      message: 'no delivery after the grace period',
    });
    expect(headerOf(after, 'webhook-signature').split(' ')).toHaveLength(1);
    expect(verifies(fresh, after)).toBe(true);
    expect(verifies(old, after)).toBe(false);
  });

  it('should refuse a CONSUMER queue and a missing one', async () => {
    const engine = await harness.engine({ runWorkers: false });
    await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'orders', name: 'audit', target: 'CONSUMER' });
    await expectRefusal(
      engine.rotateSigningSecret('orders', 'audit'),
      'BAD_USER_INPUT',
      /not a WEBHOOK queue/,
    );
    await expectRefusal(engine.rotateSigningSecret('orders', 'nope'), 'NOT_FOUND');
  });
});
