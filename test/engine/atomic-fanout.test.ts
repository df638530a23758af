import type { ChainableCommander } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { useEngineHarness } from './harness.js';

const harness = useEngineHarness();
const QUEUES = ['a', 'b', 'c'];

/**
 * An engine whose publish transaction can be broken on demand: an unknown command queued into the
 * MULTI makes Redis refuse the whole EXEC (EXECABORT), after BullMQ's adds are already queued.
 */
async function breakableEngine(): Promise<{ engine: Engine; breakNext: (broken: boolean) => void }> {
  let broken = false;
  const engine = await harness.engine({
    beforeExec: (transaction: ChainableCommander) => {
      if (broken) transaction.call('NO_SUCH_COMMAND');
    },
  });
  await engine.createTopic({ name: 'fan', kind: 'FANOUT' });
  for (const name of QUEUES) await engine.createQueue({ topic: 'fan', name, target: 'CONSUMER' });
  return {
    engine,
    breakNext: (value) => {
      broken = value;
    },
  };
}

/** Every job count of each queue, all states summed: the message must be nowhere at all. */
async function jobsPerQueue(engine: Engine): Promise<number[]> {
  return Promise.all(
    QUEUES.map(async (name) => {
      const { waiting, active, delayed, completed, failed } = await engine.queueStats({ topic: 'fan', name });
      return waiting + active + delayed + completed + failed;
    }),
  );
}

describe('atomic fan-out', () => {
  it('should leave no queue holding a publish whose transaction fails, and not count it', async () => {
    const { engine, breakNext } = await breakableEngine();
    await engine.publish({ topic: 'fan', payload: 'before' });
    expect(await jobsPerQueue(engine)).toEqual([1, 1, 1]);

    breakNext(true);
    await expect(engine.publish({ topic: 'fan', payload: 'lost', idempotencyKey: 'k1' })).rejects.toThrow(
      /EXECABORT/,
    );

    expect(await jobsPerQueue(engine)).toEqual([1, 1, 1]);
    expect(await engine.topicStats('fan')).toMatchObject({ published: 1, unrouted: 0 });

    // The failed publish released its idempotency key: the client's retry is a fresh publish.
    breakNext(false);
    const retried = await engine.publish({ topic: 'fan', payload: 'lost', idempotencyKey: 'k1' });
    expect(retried).toMatchObject({ duplicate: false, routedTo: QUEUES });
    expect(await jobsPerQueue(engine)).toEqual([2, 2, 2]);
    expect(await engine.topicStats('fan')).toMatchObject({ published: 2 });
  });

  it('should leave no queue holding any message of a batch whose transaction fails', async () => {
    const { engine, breakNext } = await breakableEngine();
    breakNext(true);
    const batch = Array.from({ length: 20 }, (_, n) => ({ topic: 'fan', payload: n }));

    await expect(engine.publishBatch(batch)).rejects.toThrow(/EXECABORT/);

    expect(await jobsPerQueue(engine)).toEqual([0, 0, 0]);
    expect(await engine.topicStats('fan')).toMatchObject({ published: 0 });
    breakNext(false);
    expect((await engine.publishBatch(batch)).every((result) => result.routedTo.length === 3)).toBe(true);
    expect(await jobsPerQueue(engine)).toEqual([20, 20, 20]);
  });
});
