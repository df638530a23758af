import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { RedisTarget } from '../../queues/redis/index.js';
import { waitFor } from '../helpers/redis.js';

const run = promisify(execFile);

/** The Redis Cluster port's bus port is always port + 10000 (Redis' fixed offset). */
const BUS_OFFSET = 10_000;

/** One redis-server of the cluster. */
interface ClusterProcess {
  readonly port: number;
  readonly dir: string;
  child: ChildProcess;
  exited: Promise<void>;
}

/** A local Redis Cluster of 3 masters and 3 replicas, on loopback, for one test file. */
export interface TestCluster {
  /** Every node, as seed nodes for a client. */
  readonly target: RedisTarget;
  /** Ports of every node. */
  readonly ports: readonly number[];
  /** The port of the master that serves `key`'s slot now. */
  masterOf(key: string): Promise<number>;
  /** Ports of the current masters, one per slot range. */
  masters(): Promise<number[]>;
  /** The process id of the node on `port` (the bench sums its masters' CPU). */
  pidOf(port: number): number;
  /** SIGKILLs the node on `port`; its replica is promoted after cluster-node-timeout. */
  kill(port: number): Promise<void>;
  /** Waits until every live node says cluster_state:ok and `key`'s slot is served by a live master. */
  waitHealthy(options?: { timeoutMs?: number; key?: string }): Promise<void>;
  /** A plain client on one node (not cluster-aware), closed by `stop`. */
  node(port: number): Redis;
  /** Stops every node and removes their directories. Idempotent. */
  stop(): Promise<void>;
}

/** A loopback port that is free, with its bus port free as well. Bounded: 50 tries. */
async function freePortPair(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenFree(0);
    if (port + BUS_OFFSET > 65_535 || taken.has(port)) continue;
    try {
      await listenFree(port + BUS_OFFSET);
      return port;
    } catch {
      // The bus port is in use: another try.
    }
  }
  throw new Error('no free loopback port pair for a cluster node in 50 tries');
}

function listenFree(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const found = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(found));
    });
  });
}

async function startNode(port: number): Promise<ClusterProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-cluster-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, 'nodes.conf'),
      '--cluster-node-timeout',
      '2000',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      // Replicas sync at once (Redis waits 5 s by default), so the test can fail over soon after start.
      '--repl-diskless-sync-delay',
      '0',
      '--dir',
      dir,
      '--save',
      '',
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { port, dir, child, exited };
}

/**
 * Starts 6 redis-servers with cluster mode on, joins them with `redis-cli --cluster create
 * --cluster-replicas 1`, and waits for cluster_state:ok on all of them. Call in beforeAll; a
 * failed start stops whatever was started.
 */
export async function startTestCluster(): Promise<TestCluster> {
  const nodes: ClusterProcess[] = [];
  const clients = new Map<number, Redis>();
  const node = (port: number): Redis => {
    let found = clients.get(port);
    if (!found) {
      found = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1 });
      found.on('error', () => {});
      clients.set(port, found);
    }
    return found;
  };
  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      for (const client of clients.values()) client.disconnect();
      clients.clear();
      for (const { child } of nodes) if (child.exitCode === null) child.kill('SIGKILL');
      await Promise.all(nodes.map((one) => one.exited));
      await Promise.all(nodes.map((one) => rm(one.dir, { recursive: true, force: true })));
    })();
    return stopping;
  };

  const alive = () => nodes.filter((one) => one.child.exitCode === null && one.child.signalCode === null);

  async function clusterNodes(): Promise<{ port: number; master: boolean; slots: [number, number][] }[]> {
    for (const one of alive()) {
      try {
        const text = (await node(one.port).call('CLUSTER', 'NODES')) as string;
        return text
          .trim()
          .split('\n')
          .map((line) => {
            const fields = line.split(' ');
            const port = Number((fields[1] ?? '').split('@')[0]?.split(':')[1]);
            const flags = fields[2] ?? '';
            const slots = fields.slice(8).flatMap((range): [number, number][] => {
              if (range.startsWith('[')) return [];
              const [from, to] = range.split('-').map(Number);
              return [[from as number, (to ?? from) as number]];
            });
            return { port, master: flags.includes('master') && !flags.includes('fail'), slots };
          });
      } catch {
        // This node is going away: ask the next.
      }
    }
    throw new Error('no cluster node answers CLUSTER NODES');
  }

  async function masterOf(key: string): Promise<number> {
    const [first] = alive();
    if (!first) throw new Error('no cluster node is alive');
    // Redis computes the slot itself (CRC16 of the hash tag), so the test cannot disagree with it.
    const slot = Number(await node(first.port).call('CLUSTER', 'KEYSLOT', key));
    const found = (await clusterNodes()).find(
      (one) => one.master && one.slots.some(([from, to]) => slot >= from && slot <= to),
    );
    if (!found) throw new Error(`no master serves slot ${slot} now`);
    return found.port;
  }

  try {
    const taken = new Set<number>();
    for (let index = 0; index < 6; index++) {
      const port = await freePortPair(taken);
      taken.add(port);
      nodes.push(await startNode(port));
    }
    await waitFor(
      async () => {
        const answers = await Promise.all(nodes.map((one) => node(one.port).ping()));
        return answers.every((answer) => answer === 'PONG');
      },
      { timeoutMs: 10_000, message: 'cluster nodes did not start within 10 s' },
    );
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((one) => `127.0.0.1:${one.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    const cluster: TestCluster = {
      target: { clusterNodes: nodes.map((one) => ({ host: '127.0.0.1', port: one.port })) },
      ports: nodes.map((one) => one.port),
      masterOf,
      masters: async () =>
        (await clusterNodes()).filter((one) => one.master && one.slots.length > 0).map((one) => one.port),
      pidOf(port) {
        const pid = nodes.find((one) => one.port === port)?.child.pid;
        if (pid === undefined) throw new Error(`no cluster node on port ${port}`);
        return pid;
      },
      async kill(port) {
        const found = nodes.find((one) => one.port === port);
        if (!found) throw new Error(`no cluster node on port ${port}`);
        clients.get(port)?.disconnect();
        clients.delete(port);
        found.child.kill('SIGKILL');
        await found.exited;
      },
      async waitHealthy({ timeoutMs = 20_000, key } = {}) {
        await waitFor(
          async () => {
            const states = await Promise.all(
              alive().map(async (one) => (await node(one.port).call('CLUSTER', 'INFO')) as string),
            );
            if (!states.every((info) => info.includes('cluster_state:ok'))) return false;
            if (key === undefined) return true;
            const port = await masterOf(key);
            return alive().some((one) => one.port === port);
          },
          { timeoutMs, intervalMs: 100, message: `cluster not healthy within ${timeoutMs} ms` },
        );
      },
      node,
      stop,
    };
    await cluster.waitHealthy();
    // A replica takes over only with recent data: wait until every replica is in sync.
    await waitFor(
      async () => {
        const infos = await Promise.all(
          nodes.map(async (one) => (await node(one.port).info('replication')) as string),
        );
        const replicas = infos.filter((info) => info.includes('role:slave'));
        return replicas.length === 3 && replicas.every((info) => info.includes('master_link_status:up'));
      },
      { timeoutMs: 20_000, intervalMs: 100, message: 'replicas did not sync within 20 s' },
    );
    return cluster;
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * `count` topic names, each of whose hash tag `{t:<name>}` lands on a different master (by slot
 * range, in the order the cluster lists them), so that tests spread over every master. Bounded.
 */
export async function topicsOnDistinctMasters(
  cluster: TestCluster,
  base: string,
  count: number,
): Promise<string[]> {
  const chosen: string[] = [];
  const used = new Set<number>();
  for (let index = 0; index < 2000 && chosen.length < count; index++) {
    const name = `${base}-${index}`;
    const master = await cluster.masterOf(`{t:${name}}`);
    if (used.has(master)) continue;
    used.add(master);
    chosen.push(name);
  }
  if (chosen.length < count) throw new Error(`found only ${chosen.length} topics on distinct masters`);
  return chosen;
}
