import type { MessageRecord } from './types.js';

/**
 * The message as the JSON bytes stored in its jobs, with the payload spliced in as the very bytes of
 * its canonical JSON that the publisher measured and hashed: nothing serializes or encodes the payload
 * again, and a worker that parses the job and serializes the payload again gets back exactly the
 * hashed bytes. Fields keep MessageRecord's order, so what workers send (webhook bodies) reads as before.
 */
export function messageJson(message: MessageRecord, canonicalPayload: Buffer): Buffer {
  const head = `${JSON.stringify({
    id: message.id,
    topic: message.topic,
    routingKey: message.routingKey,
    headers: message.headers,
  }).slice(0, -1)},"payload":`;
  const tail = `,${JSON.stringify({
    priority: message.priority,
    correlationId: message.correlationId,
    replyTo: message.replyTo,
    idempotencyKey: message.idempotencyKey,
    publishedAt: message.publishedAt,
    expiresAt: message.expiresAt,
    sha256: message.sha256,
    sizeBytes: message.sizeBytes,
  }).slice(1)}`;
  const headBytes = Buffer.byteLength(head);
  const bytes = Buffer.allocUnsafe(headBytes + canonicalPayload.length + Buffer.byteLength(tail));
  bytes.write(head, 0);
  canonicalPayload.copy(bytes, headBytes);
  bytes.write(tail, headBytes + canonicalPayload.length);
  return bytes;
}
