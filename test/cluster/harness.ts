import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { createEngine, type Engine, type EngineOptions } from '../../queues/engine/engine.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { startTestCluster, type TestCluster } from './cluster.js';

export interface ClusterHarness {
  /** This file's cluster: 3 masters, 3 replicas. */
  readonly cluster: TestCluster;
  /**
   * An engine on the cluster, closed after the test; a key prefix of its own per call unless
   * `keyPrefix` is given (two engines sharing one model two gateway instances).
   */
  engine(options?: Partial<EngineOptions>): Promise<Engine>;
  /** A loopback webhook receiver, closed after the test. */
  receiver(): Promise<Receiver>;
}

/**
 * One Redis Cluster per test file (startTestCluster), engines on it with unique prefixes, and
 * receivers, all closed in afterEach. A background error an engine reports fails the test, unless
 * the test says it expects them (`tolerateBackgroundErrors`, for failover).
 */
export function useClusterHarness(options: { tolerateBackgroundErrors?: boolean } = {}): ClusterHarness {
  let cluster: TestCluster | undefined;
  const engines: Engine[] = [];
  const receivers: Receiver[] = [];
  const backgroundErrors: Error[] = [];

  beforeAll(async () => {
    cluster = await startTestCluster();
  }, 60_000);
  afterEach(async () => {
    const results = await Promise.allSettled(engines.splice(0).map((engine) => engine.close()));
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
    const errors = backgroundErrors.splice(0);
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    if (!options.tolerateBackgroundErrors) expect(errors.map((error) => error.message)).toEqual([]);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const requireCluster = (): TestCluster => {
    if (!cluster) throw new Error('the cluster is not running; call this inside a test');
    return cluster;
  };

  return {
    get cluster() {
      return requireCluster();
    },
    async engine(engineOptions = {}) {
      const engine = await createEngine({
        redis: requireCluster().target,
        keyPrefix: `t${randomUUID().slice(0, 8)}`,
        onError: (error) => backgroundErrors.push(error),
        webhookPolicy: { allowPrivate: true },
        ...engineOptions,
      });
      engines.push(engine);
      return engine;
    },
    async receiver() {
      const receiver = await startReceiver();
      receivers.push(receiver);
      return receiver;
    },
  };
}
