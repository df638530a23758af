import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis, uniquePrefix } from '../helpers/redis.js';
import { type Harness, ok, refused, startHarness } from './yoga-client.js';

interface ReplyData {
  messageId: string;
  queue: string;
  payload: unknown;
  headers: unknown;
  repliedAt: string;
}

const REQUEST = `mutation ($payload: JSON!, $routingKey: String, $timeoutMs: Int) {
  request(input: { topic: "rpc", routingKey: $routingKey, payload: $payload }, timeoutMs: $timeoutMs) {
    messageId queue payload headers repliedAt
  }
}`;
const RECEIVE = `mutation {
  receive(topic: "rpc", queue: "pull", max: 1, waitMs: 5000) { id message { id payload replyTo correlationId } }
}`;
const REPLY = `mutation ($id: ID!, $payload: JSON!, $headers: JSON) {
  reply(deliveryId: $id, payload: $payload, headers: $headers)
}`;

interface Received {
  receive: { id: string; message: { id: string; payload: unknown; replyTo: string | null } }[];
}

let redis: TestRedis;
const harnesses: Harness[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
});
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((harness) => harness.close()));
});
afterAll(async () => {
  await redis?.stop();
});

/** Two gateways on one Redis, with a DIRECT topic and a CONSUMER queue bound to `sum`. */
async function twoGateways() {
  const keyPrefix = uniquePrefix();
  const asker = await startHarness(redis, { engine: { keyPrefix } });
  const answerer = await startHarness(redis, { engine: { keyPrefix } });
  harnesses.push(asker, answerer);
  ok(
    await asker.gql(`mutation {
      createTopic(input: { name: "rpc", kind: DIRECT }) { name }
      createQueue(input: { topic: "rpc", name: "pull", target: CONSUMER, bindingKey: "sum" }) { name }
    }`),
  );
  return { asker, answerer };
}

async function receiveOne(harness: Harness) {
  const [delivery] = ok(await harness.gql<Received>(RECEIVE)).receive;
  if (!delivery) throw new Error('nothing received');
  return delivery;
}

describe('Mutation.request and Mutation.reply', () => {
  it('should answer a request with the reply sent through the other gateway', async () => {
    const { asker, answerer } = await twoGateways();
    const answered = asker.gql<{ request: ReplyData }>(REQUEST, { payload: [2, 3], routingKey: 'sum' });
    const delivery = await receiveOne(answerer);
    expect(delivery.message.replyTo).toEqual(expect.any(String));
    const [a, b] = delivery.message.payload as [number, number];
    expect(
      ok(await answerer.gql(REPLY, { id: delivery.id, payload: a + b, headers: { unit: 'n' } })),
    ).toEqual({
      reply: true,
    });
    const { request } = ok(await answered);
    expect(request).toMatchObject({
      messageId: delivery.message.id,
      queue: 'pull',
      payload: 5,
      headers: { unit: 'n' },
    });
    expect(Date.parse(request.repliedAt)).not.toBeNaN();
  });

  it('should answer TIMEOUT in time, then NOT_FOUND for a second reply to the same delivery', async () => {
    const { asker, answerer } = await twoGateways();
    const timedOut = await asker.gql(REQUEST, { payload: 1, routingKey: 'sum', timeoutMs: 200 });
    refused(timedOut, 'TIMEOUT', /200 ms/);
    const delivery = await receiveOne(answerer);
    ok(await answerer.gql(REPLY, { id: delivery.id, payload: 'late' }));
    refused(await answerer.gql(REPLY, { id: delivery.id, payload: 'again' }), 'NOT_FOUND');
  });

  it('should refuse a reply to a plain publish with BAD_USER_INPUT', async () => {
    const { asker, answerer } = await twoGateways();
    ok(
      await asker.gql(
        'mutation { publish(input: { topic: "rpc", routingKey: "sum", payload: 1 }) { messageId } }',
      ),
    );
    const delivery = await receiveOne(answerer);
    refused(await answerer.gql(REPLY, { id: delivery.id, payload: 2 }), 'BAD_USER_INPUT', /expects no reply/);
  });

  it('should refuse, with stable codes, a request nothing could answer and a bad timeout', async () => {
    const { asker } = await twoGateways();
    refused(
      await asker.gql(REQUEST, { payload: 1, routingKey: 'nobody' }),
      'NOT_FOUND',
      /nothing could answer/,
    );
    refused(await asker.gql(REQUEST, { payload: 1, routingKey: 'sum', timeoutMs: 60_001 }), 'BAD_USER_INPUT');
    refused(
      await asker.gql(
        'mutation { request(input: { topic: "rpc", routingKey: "sum", payload: 1, replyTo: "me" }) { messageId } }',
      ),
      'BAD_USER_INPUT',
      /replyTo/,
    );
    refused(
      await asker.gql(
        `mutation { request(input: { topic: "rpc", routingKey: "sum", payload: 1, orderingKey: "${'k'.repeat(256)}" }) { messageId } }`,
      ),
      'BAD_USER_INPUT',
      /orderingKey/,
    );
  });
});
