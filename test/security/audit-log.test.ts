import { describe, expect, it } from 'vitest';
import { MAX_AUDIT_PAGE, redactArguments } from '../../queues/security/audit-log.js';
import { useEngineHarness } from '../engine/harness.js';

const harness = useEngineHarness();

const entry = (operation: string, args: unknown = {}) => ({
  keyId: 'k1',
  keyName: 'ops',
  operation,
  arguments: args,
  outcome: 'OK',
  error: null,
});

describe('redactArguments', () => {
  it('should redact secrets, omit payloads and keep only the origin of URLs', () => {
    expect(
      redactArguments({
        input: {
          name: 'billing',
          url: 'https://hooks.slack.com/services/T000/B000/XXXX?token=abc',
          signingSecret: 'whsec_abc',
          headers: { Authorization: 'Bearer sy_x', 'x-api-key': 'k' },
        },
        payload: { card: '4111' },
        apiKey: 'sy_y',
      }),
    ).toEqual({
      input: {
        name: 'billing',
        url: 'https://hooks.slack.com/…',
        signingSecret: '[redacted]',
        headers: { Authorization: '[redacted]', 'x-api-key': '[redacted]' },
      },
      payload: '[omitted]',
      apiKey: '[redacted]',
    });
  });

  it('should replace very large arguments by their size', () => {
    expect(redactArguments({ names: Array.from({ length: 100 }, () => 'x'.repeat(200)) })).toMatchObject({
      truncated: true,
    });
  });
});

describe('audit log', () => {
  it('should answer entries newest first, with their time, and cap a page', async () => {
    const engine = await harness.engine({ runWorkers: false });
    for (const operation of ['createTopic', 'createQueue', 'deleteQueue']) {
      await engine.auditLog.record(entry(operation, { input: { name: 'x', signingSecret: 'whsec_zzz' } }));
    }
    const listed = await engine.auditLog.list(2);
    expect(listed.map((e) => e.operation)).toEqual(['deleteQueue', 'createQueue']);
    expect(listed[0]).toMatchObject({ keyId: 'k1', keyName: 'ops', outcome: 'OK', error: null });
    expect(listed[0]?.arguments).toEqual({ input: { name: 'x', signingSecret: '[redacted]' } });
    expect(Math.abs(Date.parse(listed[0]?.at ?? '') - Date.now())).toBeLessThan(60_000);
    expect(await engine.auditLog.list(0)).toEqual([]);
    expect(MAX_AUDIT_PAGE).toBe(500);
  });

  it('should stay bounded by its maximum length', async () => {
    const engine = await harness.engine({ runWorkers: false, auditLog: { maxEntries: 10 } });
    for (let i = 0; i < 400; i++) await engine.auditLog.record(entry(`op${i}`));
    const length = await harness.redis.client().xlen(engine.keys.auditLog);
    // Trimming is approximate (whole stream nodes of 100 entries), so "bounded", not "exactly 10".
    expect(length).toBeLessThanOrEqual(200);
    expect((await engine.auditLog.list(1))[0]?.operation).toBe('op399');
  });

  it('should drop entries older than its retention', async () => {
    const engine = await harness.engine({ runWorkers: false, auditLog: { retentionMs: 1 } });
    for (let i = 0; i < 300; i++) await engine.auditLog.record(entry(`op${i}`));
    const length = await harness.redis.client().xlen(engine.keys.auditLog);
    expect(length).toBeLessThan(300);
  });
});
