/**
 * Fault 2, the embedded default: with REDIS_URL unset the gateway runs its own redis-server. kill -9
 * of the gateway must take that server down too (no orphan holding the data folder), and the next
 * start must find every acknowledged message.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gqlOk } from '../client.js';
import { type Exit, ensureBuilt, type GatewayProcess, isRunning, startGateway } from '../processes.js';

export interface EmbeddedResult {
  exit: Exit;
  /** Until the first redis-server was gone after the kill (null: still running after 5 s). */
  orphanGoneMs: number | null;
  secondRedisPid: number;
  firstRedisPid: number;
  published: number;
  /** Acknowledged messages the restarted gateway handed out. */
  found: number;
  missing: string[];
}

function redisPidOf(gateway: GatewayProcess): number {
  const line = gateway.logLines().find((entry) => typeof entry.redisPid === 'number');
  if (!line) throw new Error('no "Started embedded redis-server" line in the log');
  return Number(line.redisPid);
}

export async function runEmbeddedKill(messages: number): Promise<EmbeddedResult> {
  await ensureBuilt();
  const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-faults-embedded-'));
  const pids: number[] = [];
  const gateway = await startGateway({ name: 'embedded', env: { SWITCHYARD_DATA_DIR: dataDir } });
  try {
    const firstRedisPid = redisPidOf(gateway);
    pids.push(firstRedisPid);
    await gqlOk(gateway.url, 'mutation { createTopic(input: { name: "kept", kind: FANOUT }) { name } }');
    await gqlOk(
      gateway.url,
      'mutation { createQueue(input: { topic: "kept", name: "q", target: CONSUMER }) { name } }',
    );
    const ids: string[] = [];
    for (let i = 0; i < messages; i++) {
      const data = await gqlOk(
        gateway.url,
        'mutation ($i: Int!) { publish(input: { topic: "kept", payload: { i: $i } }) { messageId } }',
        { i },
      );
      ids.push(String((data.publish as { messageId: string }).messageId));
    }
    const exit = await gateway.kill();
    const killedAt = Date.now();
    let orphanGoneMs: number | null = null;
    while (Date.now() - killedAt < 5_000) {
      if (!isRunning(firstRedisPid)) {
        orphanGoneMs = Date.now() - killedAt;
        break;
      }
      await sleep(20);
    }
    // Never two servers on one AOF, even when the check above failed.
    if (orphanGoneMs === null) process.kill(firstRedisPid, 'SIGTERM');
    while (isRunning(firstRedisPid)) await sleep(20);

    await gateway.restart();
    const secondRedisPid = redisPidOf(gateway);
    pids.push(secondRedisPid);
    const received = new Set<string>();
    for (let round = 0; round < 20 && received.size < ids.length; round++) {
      const data = await gqlOk(
        gateway.url,
        'mutation { receive(topic: "kept", queue: "q", max: 100, waitMs: 500) { id message { id } } }',
      );
      const deliveries = data.receive as Array<{ id: string; message: { id: string } }>;
      for (const delivery of deliveries) {
        received.add(delivery.message.id);
        await gqlOk(gateway.url, 'mutation ($id: ID!) { ack(deliveryId: $id) }', { id: delivery.id });
      }
    }
    return {
      exit,
      orphanGoneMs,
      firstRedisPid,
      secondRedisPid,
      published: ids.length,
      found: ids.filter((id) => received.has(id)).length,
      missing: ids.filter((id) => !received.has(id)).slice(0, 10),
    };
  } finally {
    await gateway.close();
    for (const pid of pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
}
