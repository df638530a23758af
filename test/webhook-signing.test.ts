import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateSigningSecret, signWebhook, webhookHeaders } from '../queues/signing/webhook-signing.js';

const body = JSON.stringify({ hello: 'world', n: 42, emoji: '🚂' });

describe('generateSigningSecret', () => {
  it('makes whsec_ secrets of 24 to 32 random bytes', () => {
    const secrets = Array.from({ length: 50 }, generateSigningSecret);
    for (const secret of secrets) {
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
      const size = Buffer.from(secret.slice('whsec_'.length), 'base64').length;
      expect(size).toBeGreaterThanOrEqual(24);
      expect(size).toBeLessThanOrEqual(32);
    }
    expect(new Set(secrets).size).toBe(secrets.length);
  });
});

describe('signWebhook', () => {
  it('produces signatures the official library verifies', () => {
    const secret = generateSigningSecret();
    const headers = webhookHeaders([secret], 'msg_1', body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('matches the official library byte for byte', () => {
    const secret = generateSigningSecret();
    const signature = signWebhook([secret], 'msg_2', 1_700_000_000, body);
    expect(signature).toBe(new Webhook(secret).sign('msg_2', new Date(1_700_000_000_000), body));
  });

  it('fails verification when the body is tampered with', () => {
    const secret = generateSigningSecret();
    const headers = webhookHeaders([secret], 'msg_3', body);
    expect(() => new Webhook(secret).verify(body.replace('42', '43'), headers)).toThrow();
  });

  it('fails verification under a different secret', () => {
    const headers = webhookHeaders([generateSigningSecret()], 'msg_4', body);
    expect(() => new Webhook(generateSigningSecret()).verify(body, headers)).toThrow();
  });

  it('signs with every secret during a rotation, so either one verifies', () => {
    const [oldSecret, newSecret] = [generateSigningSecret(), generateSigningSecret()];
    const headers = webhookHeaders([oldSecret, newSecret], 'msg_5', body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(oldSecret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(newSecret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(generateSigningSecret()).verify(body, headers)).toThrow();
  });

  it('timestamps the headers in whole seconds', () => {
    const headers = webhookHeaders([generateSigningSecret()], 'msg_6', body, 1_700_000_000_999);
    expect(headers['webhook-id']).toBe('msg_6');
    expect(headers['webhook-timestamp']).toBe('1700000000');
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
  });

  it('refuses to sign without a usable secret', () => {
    expect(() => signWebhook([], 'msg_7', 1, body)).toThrow();
    expect(() => signWebhook(['whsec_'], 'msg_7', 1, body)).toThrow();
    expect(() => signWebhook(['whsec_not*base64!'], 'msg_7', 1, body)).toThrow();
    expect(() => signWebhook([generateSigningSecret()], 'msg_7', 1.5, body)).toThrow();
  });
});
