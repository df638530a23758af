import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CircuitState } from '../../client/generated/schema.js';
import {
  TestCircuitDocument,
  TestDeadLetterCountDocument,
  TestReplayProbedDocument,
  TestResetCircuitDocument,
} from '../generated/graphql.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { startTestRedis, type TestRedis, waitFor } from '../helpers/redis.js';
import { type Harness, ok, present, refused, startHarness } from './yoga-client.js';

let redis: TestRedis;
let h: Harness | undefined;
let receiver: Receiver | undefined;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterEach(async () => {
  await h?.close();
  await receiver?.close();
});
afterAll(async () => {
  await redis?.stop();
});

/** A webhook queue whose endpoint fails, with a breaker that opens at the first failure for two minutes. */
async function trippedHook(maxAttempts: number): Promise<{ harness: Harness; heal: () => number }> {
  const harness = await startHarness(redis, {
    engine: { runWorkers: true, circuit: { failures: 1, cooldownMs: 120_000 } },
  });
  h = harness;
  const endpoint = await startReceiver();
  receiver = endpoint;
  let healthy = false;
  endpoint.respond = () => (healthy ? { status: 204 } : { status: 503 });
  ok(
    await harness.gql(
      `mutation ($url: String!, $attempts: Int!) {
        createTopic(input: { name: "orders", kind: FANOUT }) { name }
        createQueue(input: { topic: "orders", name: "hook", target: WEBHOOK, url: $url,
          retry: { maxAttempts: $attempts, backoff: FIXED, delayMs: 50, jitter: false } }) { name }
      }`,
      { url: endpoint.url, attempts: maxAttempts },
    ),
  );
  ok(await harness.gql('mutation { publish(input: { topic: "orders", payload: 1 }) { messageId } }'));
  await waitFor(
    async () => {
      const data = ok(await harness.gqlDoc(TestCircuitDocument, { topic: 'orders', name: 'hook' }));
      return present(data.queue, 'queue orders/hook').circuit?.state === CircuitState.Open;
    },
    { message: 'the circuit never opened', timeoutMs: 10_000 },
  );
  const heal = () => {
    healthy = true;
    return Date.now();
  };
  return { harness, heal };
}

describe('resetCircuit', () => {
  it('should close an open circuit and let the held-back delivery go at once', async () => {
    const { harness, heal } = await trippedHook(5);
    const healedAt = heal();
    const { resetCircuit } = ok(
      await harness.gqlDoc(TestResetCircuitDocument, { topic: 'orders', name: 'hook' }),
    );
    expect(resetCircuit).toEqual({ name: 'hook', circuit: { state: 'CLOSED', consecutiveFailures: 0 } });
    await waitFor(() => receiver?.requests.some((request) => request.at >= healedAt), {
      message: 'the delivery waited for the two-minute cool-down',
      timeoutMs: 10_000,
    });
  });

  it('should answer NOT_FOUND for a queue that does not exist, and BAD_USER_INPUT for a bad name', async () => {
    h = await startHarness(redis);
    ok(await h.gql('mutation { createTopic(input: { name: "orders", kind: FANOUT }) { name } }'));
    refused(await h.gql('mutation { resetCircuit(topic: "orders", name: "nope") { name } }'), 'NOT_FOUND');
    refused(await h.gql('mutation { resetCircuit(topic: "nope", name: "hook") { name } }'), 'NOT_FOUND');
  });
});

describe('replaying into a queue whose circuit is open', () => {
  it('should say which queues it probed, and deliver without waiting out the cool-down', async () => {
    const { harness, heal } = await trippedHook(1);
    await waitFor(async () => {
      const { deadLetters } = ok(
        await harness.gqlDoc(TestDeadLetterCountDocument, { filter: { topic: 'orders' } }),
      );
      return deadLetters.totalCount === 1;
    });
    const healedAt = heal();
    const { replayDeadLetters } = ok(
      await harness.gqlDoc(TestReplayProbedDocument, { filter: { topic: 'orders' } }),
    );
    expect(replayDeadLetters).toEqual({ replayed: 1, probedQueues: ['hook'] });
    await waitFor(() => receiver?.requests.some((request) => request.at >= healedAt), {
      message: 'the replayed message waited for the two-minute cool-down',
      timeoutMs: 10_000,
    });
  });
});
