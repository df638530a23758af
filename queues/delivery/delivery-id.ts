/** Delivery ids: topic, queue, job and the lock token of the attempt, which is also the ack token. */

const SEPARATOR = '~';

export function encodeDeliveryId(topic: string, queue: string, jobId: string, token: string): string {
  return [topic, queue, jobId, token].join(SEPARATOR);
}

export function decodeDeliveryId(
  id: string,
): { topic: string; queue: string; jobId: string; token: string } | null {
  const parts = id.split(SEPARATOR);
  if (parts.length !== 4 || parts.some((part) => part.length === 0)) return null;
  const [topic, queue, jobId, token] = parts as [string, string, string, string];
  return { topic, queue, jobId, token };
}
