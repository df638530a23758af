import { assertName, badInput, notFound } from '../core/index.js';

/** Where a dead letter lives: the BullMQ job `jobId` (the message id) of queue `queue` of `topic`. */
export interface DeadLetterRef {
  topic: string;
  queue: string;
  jobId: string;
}

/**
 * A dead letter's id is `<topic>/<queue>/<jobId>`: readable, stable for as long as the job stays
 * failed, and what an operator can find in bull-board. Names never hold '/', so the split is exact.
 */
export const deadLetterId = (ref: DeadLetterRef) => `${ref.topic}/${ref.queue}/${ref.jobId}`;

/** NOT_FOUND for a dead letter that is not one (any more). */
export const deadLetterGone = (id: string) =>
  notFound(`Dead letter ${id} does not exist (already replayed or discarded?)`);

export function parseDeadLetterId(id: string): DeadLetterRef {
  const [topic = '', queue = '', ...rest] = id.split('/');
  const jobId = rest.join('/');
  if (!topic || !queue || !jobId) {
    throw badInput(`id must be a dead letter id (<topic>/<queue>/<messageId>), got ${JSON.stringify(id)}`, {
      field: 'id',
    });
  }
  assertName('id (topic part)', topic);
  assertName('id (queue part)', queue);
  return { topic, queue, jobId };
}

/** A position in the newest-first order: failure time, then id (greatest first) among equal times. */
export interface Cursor {
  failedAt: number;
  id: string;
}

/** Cursors are opaque to clients: base64url of `[failedAt, id]`. */
export const encodeCursor = (cursor: Cursor) =>
  Buffer.from(JSON.stringify([cursor.failedAt, cursor.id])).toString('base64url');

export function decodeCursor(after: string): Cursor {
  const refuse = () =>
    badInput('after must be a cursor answered by deadLetters (pageInfo.endCursor or an edge cursor)', {
      field: 'after',
    });
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) throw refuse();
  const [failedAt, id] = decoded as [unknown, unknown];
  if (typeof failedAt !== 'number' || !Number.isSafeInteger(failedAt) || failedAt < 0) throw refuse();
  if (typeof id !== 'string' || id.split('/').length < 3) throw refuse();
  return { failedAt, id };
}

/** Sort order of the merged pages: newest first, ties by id, greatest first (as the Lua walk does). */
export function newestFirst(a: Cursor, b: Cursor): number {
  if (a.failedAt !== b.failedAt) return b.failedAt - a.failedAt;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}
