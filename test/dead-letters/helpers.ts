import { UnrecoverableError, Worker } from 'bullmq';
import { expect } from 'vitest';
import type { FailureReason } from '../../queues/core/types.js';
import type { DeadLetterFilter, DeadLetterRecord } from '../../queues/dead-letters/dead-letters.js';
import type { Engine } from '../../queues/engine/engine.js';

import type { EngineHarness } from '../engine/harness.js';
import { waitFor } from '../helpers/redis.js';

export { useEngineHarness } from '../engine/harness.js';

/** A DIRECT topic whose CONSUMER queues each take the routing key of their own name. */
export async function consumerTopic(
  engine: Engine,
  topic: string,
  queues: readonly string[],
  settings: { maxAttempts?: number; ttl?: boolean } = {},
): Promise<void> {
  await engine.createTopic({ name: topic, kind: 'DIRECT' });
  for (const name of queues) {
    await engine.createQueue({
      topic,
      name,
      bindingKey: name,
      target: 'CONSUMER',
      retry: {
        maxAttempts: settings.maxAttempts ?? 1,
        backoff: 'FIXED',
        delayMs: 0,
        maxDelayMs: 0,
        jitter: false,
      },
    });
  }
}

/**
 * Publishes `count` messages to `queue` and nacks every delivery with `reason`, so each becomes a
 * dead letter at once (the queues of consumerTopic make one attempt). Answers the message ids, oldest first.
 */
export async function deadLetter(
  engine: Engine,
  topic: string,
  queue: string,
  count: number,
  reason: FailureReason = 'REJECTED',
  error: (index: number) => string = (index) => `nacked #${index}`,
): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < count; index++) {
    const { messageId } = await engine.publish({ topic, routingKey: queue, payload: { index } });
    const [delivery] = await engine.receive(topic, queue, 1, 2000);
    if (!delivery) throw new Error(`no delivery for message ${index}`);
    expect(delivery.message.id).toBe(messageId);
    await engine.nack(delivery.id, reason, error(index));
    ids.push(messageId);
  }
  return ids;
}

/** Every dead letter the filter selects, page by page (bounded), newest first. */
export async function listAll(
  engine: Engine,
  filter: DeadLetterFilter = {},
  first = 7,
): Promise<DeadLetterRecord[]> {
  const found: DeadLetterRecord[] = [];
  let after: string | null = null;
  for (let round = 0; round < 1000; round++) {
    const page = await engine.deadLetters.page(filter, { first, after });
    found.push(...page.edges.map((edge) => edge.node));
    if (!page.pageInfo.hasNextPage) return found;
    after = page.pageInfo.endCursor;
  }
  throw new Error('listAll: more than 1000 pages');
}

/** Message ids of a list of dead letters. */
export const messageIds = (records: readonly DeadLetterRecord[]) =>
  records.map((record) => record.message.id);

/**
 * Fails the waiting jobs of a queue with a plain BullMQ worker (so with real BullMQ failed jobs that
 * our delivery code never saw) until the failed set holds `count`, then stops the worker.
 */
export async function failAll(
  harness: EngineHarness,
  engine: Engine,
  topic: string,
  queue: string,
  count: number,
  failedReason: string,
): Promise<void> {
  const worker = new Worker(
    queue,
    async (): Promise<void> => {
      throw new UnrecoverableError(failedReason);
    },
    { connection: harness.redis.client(), prefix: engine.keys.bullPrefix(topic), concurrency: 50 },
  );
  worker.on('error', () => {});
  try {
    const bull = harness.bullQueue(engine, topic, queue);
    await waitFor(async () => (await bull.getFailedCount()) >= count, {
      timeoutMs: 20_000,
      message: `${queue} did not reach ${count} failed jobs`,
    });
  } finally {
    await worker.close();
  }
}
