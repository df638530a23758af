import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../queues/engine.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { startTestRedis, type TestRedis, uniquePrefix, waitFor } from '../helpers/redis.js';

let redis: TestRedis;
let engine: Engine;
let receiver: Receiver;
beforeAll(async () => {
  redis = await startTestRedis();
  receiver = await startReceiver();
  engine = await createEngine({
    redisUrl: redis.url,
    keyPrefix: uniquePrefix(),
    onError: (e) => console.error(e),
  });
});
afterAll(async () => {
  await engine?.close();
  await receiver?.close();
  await redis?.stop();
});

it('delivers a published message to a webhook and to a consumer', async () => {
  await engine.createTopic({ name: 'orders', kind: 'FANOUT' });
  await engine.createQueue({ topic: 'orders', name: 'hook', target: 'WEBHOOK', url: receiver.url });
  await engine.createQueue({ topic: 'orders', name: 'pull', target: 'CONSUMER' });
  const result = await engine.publish({ topic: 'orders', payload: { b: 1, a: 2 } });
  expect(result.routedTo).toEqual(['hook', 'pull']);
  await waitFor(() => receiver.requests.length === 1);
  const [delivery] = await engine.receive('orders', 'pull', 10, 1000);
  expect(delivery?.message.id).toBe(result.messageId);
  expect(await engine.ack(delivery?.id ?? '')).toBe(true);
});
