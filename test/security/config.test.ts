import { describe, expect, it } from 'vitest';
import { ConfigError, listensOnLoopbackOnly, loadConfig } from '../../server/config.js';
import { engineSecurityOptions, requestLimits } from '../../server/security-config.js';

function problems(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('security settings', () => {
  it('should read every security setting', () => {
    const config = loadConfig({
      SWITCHYARD_ADMIN_KEY: 'a-long-enough-admin-key',
      SWITCHYARD_ALLOW_PRIVATE_WEBHOOKS: 'true',
      SWITCHYARD_INTROSPECTION: 'false',
      SWITCHYARD_CORS_ORIGINS: 'https://dash.example.com, http://localhost:5173/',
      SWITCHYARD_MAX_DEPTH: '8',
      SWITCHYARD_MAX_COST: '900',
      SWITCHYARD_MAX_ALIASES: '3',
      SWITCHYARD_MAX_DIRECTIVES: '4',
      SWITCHYARD_MAX_TOKENS: '500',
      SWITCHYARD_MAX_REQUEST_BYTES: '65536',
      SWITCHYARD_MAX_BATCH: '50',
      SWITCHYARD_RATE_LIMIT_PER_SECOND: '0',
      SWITCHYARD_RATE_LIMIT_BURST: '7',
      SWITCHYARD_SIGNING_SECRET_GRACE_MS: '60000',
      SWITCHYARD_AUDIT_MAX_ENTRIES: '10',
      SWITCHYARD_AUDIT_RETENTION_MS: '1000',
    });
    expect(config).toMatchObject({
      adminKey: 'a-long-enough-admin-key',
      allowPrivateWebhooks: true,
      introspection: false,
      corsOrigins: ['https://dash.example.com', 'http://localhost:5173'],
      maxBatchSize: 50,
    });
    expect(engineSecurityOptions(config)).toEqual({
      webhookPolicy: { allowPrivate: true },
      maxBatchSize: 50,
      signingSecretGraceMs: 60_000,
      rateLimit: null,
      auditLog: { maxEntries: 10, retentionMs: 1000 },
    });
    expect(requestLimits(config)).toEqual({
      maxDepth: 8,
      maxCost: 900,
      maxAliases: 3,
      maxDirectives: 4,
      maxTokens: 500,
      maxRequestBytes: 65536,
      introspection: false,
    });
  });

  it('should refuse a short or spaced admin key without echoing it', () => {
    const message = problems({ SWITCHYARD_ADMIN_KEY: 'short-secret' });
    expect(message).toMatch(/^SWITCHYARD_ADMIN_KEY: got <redacted>, expected 16 to 256 characters/);
    expect(message).not.toContain('short-secret');
    expect(problems({ SWITCHYARD_ADMIN_KEY: 'has a space in it, long enough' })).toMatch(
      /SWITCHYARD_ADMIN_KEY/,
    );
  });

  it('should refuse an alert webhook URL or secret without echoing either', () => {
    const url = problems({ SWITCHYARD_ALERT_WEBHOOK_URL: 'ftp://hooks.example/T0KEN-in-path' });
    expect(url).toMatch(/^SWITCHYARD_ALERT_WEBHOOK_URL: got <redacted>, expected an http/);
    expect(url).not.toContain('T0KEN');
    const secret = problems({ SWITCHYARD_ALERT_WEBHOOK_SECRET: 'whsec_c2hvcnQ=' });
    expect(secret).toMatch(
      /^SWITCHYARD_ALERT_WEBHOOK_SECRET: got <redacted>, expected a Standard Webhooks secret/,
    );
    expect(secret).not.toContain('c2hvcnQ');
    expect(problems({ SWITCHYARD_ALERT_WEBHOOK_SECRET: 'whsec_not base64!' })).toMatch(
      /SWITCHYARD_ALERT_WEBHOOK_SECRET/,
    );
  });

  it.each(['dash.example.com', 'https://dash.example.com/path', 'ftp//x', ','])(
    'should refuse the CORS origin list %j',
    (value) => {
      expect(problems({ SWITCHYARD_CORS_ORIGINS: value })).toMatch(/SWITCHYARD_CORS_ORIGINS/);
    },
  );

  it('should allow private webhooks while listening on loopback only', () => {
    expect(engineSecurityOptions(loadConfig({})).webhookPolicy).toEqual({ allowPrivate: true });
    expect(engineSecurityOptions(loadConfig({ HOST: '0.0.0.0' })).webhookPolicy).toEqual({
      allowPrivate: false,
    });
    expect(engineSecurityOptions(loadConfig({})).rateLimit).toEqual({ perSecond: 1000, burst: 2000 });
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', '[::1]', 'localhost'])
      expect(listensOnLoopbackOnly(host)).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'gateway.internal'])
      expect(listensOnLoopbackOnly(host)).toBe(false);
  });

  it('should read the websocket limits, and refuse nonsense', () => {
    expect(loadConfig({})).toMatchObject({
      wsConnectionInitTimeoutMs: 3000,
      wsMaxConnectionsPerKey: 100,
      wsMaxOperationsPerSocket: 100,
    });
    expect(
      loadConfig({
        SWITCHYARD_WS_INIT_TIMEOUT_MS: '500',
        SWITCHYARD_WS_MAX_CONNECTIONS_PER_KEY: '3',
        SWITCHYARD_WS_MAX_OPERATIONS: '7',
      }),
    ).toMatchObject({
      wsConnectionInitTimeoutMs: 500,
      wsMaxConnectionsPerKey: 3,
      wsMaxOperationsPerSocket: 7,
    });
    expect(problems({ SWITCHYARD_WS_INIT_TIMEOUT_MS: '0' })).toMatch(
      /^SWITCHYARD_WS_INIT_TIMEOUT_MS: got "0"/,
    );
    expect(problems({ SWITCHYARD_WS_MAX_CONNECTIONS_PER_KEY: '0' })).toMatch(
      /SWITCHYARD_WS_MAX_CONNECTIONS_PER_KEY/,
    );
    expect(problems({ SWITCHYARD_WS_MAX_OPERATIONS: 'many' })).toMatch(/SWITCHYARD_WS_MAX_OPERATIONS/);
  });
});
