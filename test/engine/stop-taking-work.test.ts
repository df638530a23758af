/**
 * engine.stopTakingWork(), a drain's first step: what is under way finishes, nothing new starts on
 * this instance, and another instance takes what is left.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/redis.js';
import { useEngineHarness } from './harness.js';

const harness = useEngineHarness();

const bodyId = (body: string) => (JSON.parse(body) as { id: string }).id;

describe('stopTakingWork', () => {
  it('should let a webhook delivery under way finish and start no other, leaving it to another instance', async () => {
    const keyPrefix = `stw${Date.now()}`;
    const first = await harness.engine({ keyPrefix });
    const receiver = await harness.receiver();
    receiver.respond = () => ({ status: 204, delayMs: 800 });
    await first.createTopic({ name: 'orders', kind: 'FANOUT' });
    const queue = await first.createQueue({
      topic: 'orders',
      name: 'hook',
      target: 'WEBHOOK',
      url: receiver.url,
      concurrency: 1,
    });
    const { message: underWay } = await first.publish({ topic: 'orders', payload: { n: 1 } });
    await waitFor(() => receiver.requests.length === 1);
    await first.stopTakingWork();
    const { message: later } = await first.publish({ topic: 'orders', payload: { n: 2 } });

    // The one under way is answered (800 ms) and completes; the next one is not started here.
    await waitFor(async () => (await first.queueStats(queue)).completed === 1);
    await sleep(700);
    expect(receiver.requests.map((request) => bodyId(request.body))).toEqual([underWay?.id]);
    expect((await first.queueStats(queue)).waiting).toBe(1);

    // Another instance on the same Redis delivers it.
    await harness.engine({ keyPrefix });
    await waitFor(() => receiver.requests.length === 2, { timeoutMs: 10_000 });
    expect(bodyId(receiver.requests[1]?.body ?? '{}')).toBe(later?.id);
  });

  it('should end a receive long poll at once, hand out nothing more, and still take acks', async () => {
    const engine = await harness.engine();
    await engine.createTopic({ name: 'jobs', kind: 'FANOUT' });
    await engine.createQueue({ topic: 'jobs', name: 'work', target: 'CONSUMER' });
    await engine.publish({ topic: 'jobs', payload: { n: 1 } });
    const [held] = await engine.receive('jobs', 'work', 1, 0);
    expect(held).toBeDefined();
    const stream = await engine.consume('jobs', 'work', 5);

    const polling = engine.receive('jobs', 'work', 1, 10_000);
    await sleep(200);
    const stoppedAt = Date.now();
    await engine.stopTakingWork();
    expect(await polling).toEqual([]);
    expect(Date.now() - stoppedAt).toBeLessThan(1_000);

    await engine.publish({ topic: 'jobs', payload: { n: 2 } });
    // Neither the consume stream nor a receive hands it out.
    const next = stream.next();
    const pushed = await Promise.race([next, sleep(1_500, 'nothing' as const)]);
    expect(pushed).toBe('nothing');
    expect(await engine.receive('jobs', 'work', 5, 0)).toEqual([]);
    expect(await engine.ack(held?.id ?? '')).toBe(true);
    await stream.return?.();
  });
});
