import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../queues/core/types.js';
import { canonicalJson } from '../../queues/publish/canonical-json.js';
import { messageJsons } from '../../queues/publish/message-json.js';

/** The stored bytes of one message, on its own. */
const messageJson = (message: MessageRecord, canonicalPayload: string): Buffer =>
  messageJsons([{ message, canonicalPayload }])[0] as Buffer;

const nullable = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });

/**
 * Strings with what JSON.stringify escapes (quotes, backslashes, control characters, lone and paired
 * surrogates) as often as plain ones, which message-json quotes without it.
 */
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({
    unit: fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\u2028', '\ud800', '\udfff', 'é', 'a'),
  }),
);

const messages: fc.Arbitrary<MessageRecord> = fc.record(
  {
    id: fc.oneof(fc.uuid(), text),
    topic: text,
    routingKey: nullable(text),
    headers: fc.dictionary(text, text),
    payload: fc.jsonValue(),
    priority: fc.integer({ min: 0, max: 9 }),
    correlationId: nullable(text),
    replyTo: nullable(text),
    idempotencyKey: nullable(text),
    publishedAt: fc.oneof(fc.constant('2026-12-05T15:00:00.000Z'), text),
    expiresAt: nullable(fc.oneof(fc.constant('2026-12-05T16:00:00.000Z'), text)),
    sha256: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }),
    sizeBytes: fc.nat(),
    orderingKey: text,
    // Who published it: kept for the trail's derived PUBLISHED entry, absent when keyless.
    by: text,
  },
  {
    requiredKeys: [
      'id',
      'topic',
      'routingKey',
      'headers',
      'payload',
      'priority',
      'correlationId',
      'replyTo',
      'idempotencyKey',
      'publishedAt',
      'expiresAt',
      'sha256',
      'sizeBytes',
    ],
  },
);

describe('messageJson', () => {
  it('stores what JSON.stringify would, with the payload in its canonical form', () => {
    fc.assert(
      fc.property(messages, (message) => {
        const canonical = canonicalJson(message.payload);
        const stored = messageJson(message, canonical).toString('utf8');
        expect(stored).toBe(JSON.stringify({ ...message, payload: JSON.parse(canonical) }));
        expect(JSON.parse(stored)).toEqual(JSON.parse(JSON.stringify(message)));
      }),
      { numRuns: 1000 },
    );
  });

  it('writes a batch into one buffer, each message its own view of exactly its bytes', () => {
    fc.assert(
      fc.property(fc.array(messages, { minLength: 1, maxLength: 20 }), (batch) => {
        const items = batch.map((message) => ({ message, canonicalPayload: canonicalJson(message.payload) }));
        const stored = messageJsons(items);
        expect(stored.map((bytes) => bytes.toString('utf8'))).toEqual(
          items.map(({ message, canonicalPayload }) =>
            messageJson(message, canonicalPayload).toString('utf8'),
          ),
        );
        expect(new Set(stored.map((bytes) => bytes.buffer)).size).toBe(1);
      }),
      { numRuns: 200 },
    );
  });

  it('lets a worker that parses the job hand out exactly the hashed bytes again', () => {
    const payload = { z: [1, { b: 2, a: 1 }], a: 'é', 10: null };
    const canonical = canonicalJson(payload);
    const sha256 = createHash('sha256').update(canonical).digest('hex');
    const message: MessageRecord = {
      id: 'm-1',
      topic: 'orders',
      routingKey: null,
      headers: {},
      payload,
      priority: 0,
      correlationId: null,
      replyTo: null,
      idempotencyKey: null,
      publishedAt: '2026-12-05T15:00:00.000Z',
      expiresAt: null,
      sha256,
      sizeBytes: Buffer.byteLength(canonical),
    };
    const parsed = JSON.parse(messageJson(message, canonical).toString('utf8')) as MessageRecord;
    const again = JSON.stringify(parsed.payload);
    expect(again).toBe(canonical);
    expect(createHash('sha256').update(again).digest('hex')).toBe(sha256);
  });
});
