import type { MessageRecord } from './types.js';

/**
 * The message as the JSON text stored in its jobs, with the payload spliced in as its canonical
 * JSON: the publisher serialized it once already to hash it, so those same bytes are stored, and a
 * worker that parses the job and serializes the payload again gets back exactly the hashed bytes.
 * Fields keep MessageRecord's order, so what workers send (webhook bodies) reads as before.
 */
export function messageJson(message: MessageRecord, canonicalPayload: string): string {
  const head = JSON.stringify({
    id: message.id,
    topic: message.topic,
    routingKey: message.routingKey,
    headers: message.headers,
  });
  const tail = JSON.stringify({
    priority: message.priority,
    correlationId: message.correlationId,
    replyTo: message.replyTo,
    idempotencyKey: message.idempotencyKey,
    publishedAt: message.publishedAt,
    expiresAt: message.expiresAt,
    sha256: message.sha256,
    sizeBytes: message.sizeBytes,
  });
  return `${head.slice(0, -1)},"payload":${canonicalPayload},${tail.slice(1)}`;
}
