import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isRedisUnavailable, SwitchyardError } from '../../queues/core/errors.js';
import { topicsOnDistinctMasters } from './cluster.js';
import { useClusterHarness } from './harness.js';

/**
 * A master SIGKILLed under publish load while its replica takes over (cluster-node-timeout 2 s):
 * publishes during the failover either succeed or fail as "Redis unavailable" (UNAVAILABLE at the
 * GraphQL boundary), and afterwards every acknowledged message is in its queue.
 */
const harness = useClusterHarness({ tolerateBackgroundErrors: true });

/** Publishers running at once; each waits for its answer before the next publish. */
const PUBLISHERS = 8;
/** Load before the kill, and the longest the failover may take before the test gives up. */
const BEFORE_KILL_MS = 1_000;
const FAILOVER_LIMIT_MS = 20_000;
/** Load kept up after the cluster is healthy again, to see publishes to the promoted replica succeed. */
const AFTER_MS = 1_000;
/** Hard bound on publishes per publisher, whatever the timing. */
const MAX_PER_PUBLISHER = 20_000;

describe('failover', () => {
  it('should lose no acknowledged publish when a master is killed under load', async () => {
    const engine = await harness.engine({ runWorkers: false });
    const topics = await topicsOnDistinctMasters(harness.cluster, 'fo', 3);
    for (const topic of topics) {
      await engine.createTopic({ name: topic, kind: 'FANOUT' });
      await engine.createQueue({ topic, name: 'q', target: 'CONSUMER' });
    }
    const victimTopic = topics[0] as string;
    const victim = await harness.cluster.masterOf(`{t:${victimTopic}}`);

    const acknowledged = new Map<string, Set<string>>(topics.map((topic) => [topic, new Set<string>()]));
    const failures: unknown[] = [];
    let unavailable = 0;
    let stop = false;
    const publishers = Array.from({ length: PUBLISHERS }, async (_, publisher) => {
      for (let n = 0; n < MAX_PER_PUBLISHER && !stop; n++) {
        const topic = topics[(publisher + n) % topics.length] as string;
        try {
          const { messageId } = await engine.publish({ topic, payload: { publisher, n } });
          acknowledged.get(topic)?.add(messageId);
        } catch (error) {
          const code = error instanceof SwitchyardError ? error.code : null;
          if (code === ErrorCode.Unavailable || (code === null && isRedisUnavailable(error))) unavailable++;
          else failures.push(error);
          // As a client would: back off a little before trying again.
          await sleep(20);
        }
      }
    });

    await sleep(BEFORE_KILL_MS);
    const beforeKill = acknowledged.get(victimTopic)?.size ?? 0;
    await harness.cluster.kill(victim);
    const killedAt = Date.now();
    await harness.cluster.waitHealthy({ timeoutMs: FAILOVER_LIMIT_MS, key: `{t:${victimTopic}}` });
    const failoverMs = Date.now() - killedAt;
    const promoted = await harness.cluster.masterOf(`{t:${victimTopic}}`);
    const atHealthy = acknowledged.get(victimTopic)?.size ?? 0;
    // Publishes to the victim's topic must go through again once its replica is the master.
    const deadline = Date.now() + 15_000;
    while ((acknowledged.get(victimTopic)?.size ?? 0) <= atHealthy && Date.now() < deadline) await sleep(50);
    await sleep(AFTER_MS);
    stop = true;
    await Promise.all(publishers);

    expect(promoted).not.toBe(victim);
    expect(beforeKill).toBeGreaterThan(0);
    expect(acknowledged.get(victimTopic)?.size ?? 0).toBeGreaterThan(atHealthy);
    // Every failure was "Redis unavailable" (UNAVAILABLE), never anything else.
    expect(failures.map((error) => (error instanceof Error ? error.message : String(error)))).toEqual([]);

    // Every acknowledged message is in its queue: read them through a fresh cluster client.
    const reader = new Cluster(
      harness.cluster.ports.filter((port) => port !== victim).map((port) => ({ host: '127.0.0.1', port })),
    );
    try {
      for (const topic of topics) {
        // A message waits in BullMQ's wait list or, with a priority, in its prioritized set.
        const bull = engine.keys.bull(topic, 'q');
        const waiting = new Set([
          ...(await reader.lrange(bull.wait, 0, -1)),
          ...(await reader.zrange(bull.prioritized, 0, -1)),
        ]);
        const lost = [...(acknowledged.get(topic) ?? [])].filter((id) => !waiting.has(id));
        expect({ topic, lost }).toEqual({ topic, lost: [] });
      }
    } finally {
      reader.disconnect();
    }
    const total = [...acknowledged.values()].reduce((sum, ids) => sum + ids.size, 0);
    console.info(
      `failover: ${total} acknowledged, ${unavailable} UNAVAILABLE, replica promoted in ${failoverMs} ms, 0 lost`,
    );
  }, 60_000);
});
