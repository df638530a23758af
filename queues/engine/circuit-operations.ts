import {
  type DeadLetterFilter,
  parseDeadLetterId,
  type ReplayOptions,
  type ReplayResult,
} from '../dead-letters/index.js';
import type { Parts } from './parts.js';

/** What operators do to circuit breakers, and the replays that make an open one probe at once. */
export function circuitOperations(parts: Parts) {
  const { registry, circuit, keys, deadLetters } = parts;
  const targetOf = (topic: string, name: string) => ({
    topic,
    name,
    limiterKey: keys.bull(topic, name).limiter,
  });

  /** After a replay: an OPEN circuit of a webhook queue replayed into probes with its first message now. */
  async function probeReplayed(result: ReplayResult, toQueue: string | null): Promise<ReplayResult> {
    const table = await registry.table();
    const replayedInto = new Map<string, { topic: string; name: string }>();
    for (const id of result.ids) {
      const { topic, queue } = parseDeadLetterId(id);
      const name = toQueue ?? queue;
      replayedInto.set(`${topic}/${name}`, { topic, name });
    }
    const probedQueues: string[] = [];
    for (const { topic, name } of replayedInto.values()) {
      const queue = table.queues(topic).find((candidate) => candidate.name === name);
      if (queue?.target !== 'WEBHOOK') continue;
      if (await circuit.probeNow(targetOf(topic, name))) probedQueues.push(name);
    }
    return { ...result, probedQueues };
  }

  return {
    /** Dead letters: page, get, replay, replayMany, discard, discardMany, sweep, repair (dead-letters/). */
    deadLetters: {
      ...deadLetters,
      replay: async (id: string, replayOptions?: ReplayOptions) =>
        probeReplayed(await deadLetters.replay(id, replayOptions), replayOptions?.toQueue ?? null),
      replayMany: async (filter: DeadLetterFilter, limit: number, by: string | null = null) =>
        probeReplayed(await deadLetters.replayMany(filter, limit, by), null),
    },
    /**
     * Closes a webhook queue's circuit breaker for every instance (an operator fixed the endpoint):
     * deliveries resume within a second. NOT_FOUND for no such queue; a CONSUMER queue has none.
     */
    async resetCircuit(topic: string, name: string) {
      const queue = await registry.requireQueue(topic, name);
      if (queue.target === 'WEBHOOK') await circuit.reset(targetOf(topic, name));
      return queue;
    },
  };
}
