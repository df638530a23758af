import { describe, expect, it } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { useEngineHarness } from './harness.js';
import { useTwoInstances } from './two-instances.js';

/** `switchyard_routing_refusals_total` (docs/METRICS.md): publishes refused by their topic's routing version. */
const harness = useEngineHarness();

const { twoInstances } = useTwoInstances(harness);

/** Resolves once `engine` has heard of a change to this queue. */
function hears(engine: Engine, topic: string, queue: string): Promise<void> {
  return new Promise((resolve) => {
    const stop = engine.registry.onChange((change) => {
      if (change.topic !== topic || change.queue !== queue) return;
      stop();
      resolve();
    });
  });
}

/** The counter's sample for a topic in an instance's metrics; null when it has none. */
async function refusals(engine: Engine, topic: string): Promise<number | null> {
  const text = await engine.metrics.render();
  const line = text
    .split('\n')
    .find((row) => row.startsWith(`switchyard_routing_refusals_total{topic="${topic}"} `));
  return line === undefined ? null : Number(line.split(' ').at(-1));
}

describe('switchyard_routing_refusals_total', () => {
  it('should count a publish refused because its topic gained a queue on another instance, once', async () => {
    const { a, b, proxy } = await twoInstances();
    const heard = hears(b, 'orders', 'old');
    await a.createTopic({ name: 'orders', kind: 'FANOUT' });
    await a.createQueue({ topic: 'orders', name: 'old', target: 'CONSUMER' });
    await heard;
    // B routes orders once, so it keeps that routing until it hears of a change.
    expect((await b.publish({ topic: 'orders', payload: 'warm' })).routedTo).toEqual(['old']);
    expect(await refusals(b, 'orders')).toBeNull();

    proxy.hold();
    await a.createQueue({ topic: 'orders', name: 'new', target: 'CONSUMER' });
    expect((await b.publish({ topic: 'orders', payload: 'after' })).routedTo).toEqual(['new', 'old']);
    // Routed again after the refusal, B keeps the new routing: the next publish is not refused.
    expect((await b.publish({ topic: 'orders', payload: 'again' })).routedTo).toEqual(['new', 'old']);

    expect(await refusals(b, 'orders')).toBe(1);
    expect(await refusals(a, 'orders')).toBeNull();
    expect(await b.metrics.render()).toContain('# TYPE switchyard_routing_refusals_total counter');
  });
});
