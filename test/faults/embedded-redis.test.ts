/**
 * Fault 2 (issue 19), the embedded default: with REDIS_URL unset the gateway runs its own redis-server.
 * A kill -9 of the gateway must not leave that redis-server running on its own (holding the data
 * folder, so that the next start would run a second server on the same AOF), and the next start must
 * find every acknowledged message.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { gqlOk } from './client.js';
import { ensureBuilt, type GatewayProcess, isRunning, startGateway } from './processes.js';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

function redisPidOf(gateway: GatewayProcess): number {
  const line = gateway.logLines().find((entry) => typeof entry.redisPid === 'number');
  if (!line) throw new Error('no "Started embedded redis-server" line in the log');
  return Number(line.redisPid);
}

describe('fault: kill -9 of a gateway running its embedded Redis', () => {
  it('should leave no orphan redis-server, and the next start should find every acknowledged message', async () => {
    await ensureBuilt();
    const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-faults-embedded-'));
    const pids: number[] = [];
    cleanups.push(async () => {
      for (const pid of pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    });
    const gateway = await startGateway({ name: 'embedded', env: { SWITCHYARD_DATA_DIR: dataDir } });
    cleanups.push(() => gateway.close());
    const redisPid = redisPidOf(gateway);
    pids.push(redisPid);

    await gqlOk(gateway.url, 'mutation { createTopic(input: { name: "kept", kind: FANOUT }) { name } }');
    await gqlOk(
      gateway.url,
      'mutation { createQueue(input: { topic: "kept", name: "q", target: CONSUMER }) { name } }',
    );
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const data = await gqlOk(
        gateway.url,
        'mutation ($i: Int!) { publish(input: { topic: "kept", payload: { i: $i } }) { messageId } }',
        { i },
      );
      ids.push(String((data.publish as { messageId: string }).messageId));
    }

    const exit = await gateway.kill();
    expect(exit.signal).toBe('SIGKILL');
    const orphanGone = await waitUntil(() => !isRunning(redisPid), 5_000);
    expect(orphanGone, `redis-server ${redisPid} outlived its gateway`).toBe(true);

    await gateway.restart();
    const secondPid = redisPidOf(gateway);
    pids.push(secondPid);
    expect(secondPid).not.toBe(redisPid);
    const data = await gqlOk(
      gateway.url,
      'mutation { receive(topic: "kept", queue: "q", max: 100, waitMs: 1000) { id message { id } } }',
    );
    const received = (data.receive as Array<{ message: { id: string } }>).map(
      (delivery) => delivery.message.id,
    );
    expect(new Set(received)).toEqual(new Set(ids));
  }, 90_000);
});
