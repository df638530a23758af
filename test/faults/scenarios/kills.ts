/** Faults 1 and 2 of issue 19: a gateway, then Redis, SIGKILLed under load and started again. */
import type { Fixture } from '../fixture.js';
import { type LoadRunOptions, type LoadRunResult, runUnderLoad } from './load-run.js';

export type Sizing = Omit<LoadRunOptions, 'inject'>;

/** kill -9 of gateway A (of two), started again on the same port at once. */
export async function killGateway(fixture: Fixture): Promise<void> {
  const gateway = fixture.gateways[0];
  if (!gateway) throw new Error('no gateway to kill');
  await gateway.kill();
  await gateway.restart();
}

/** kill -9 of redis-server, started again on the same port from its append-only file. */
export async function killRedis(fixture: Fixture): Promise<void> {
  await fixture.redis.crashAndRestart();
}

export const runGatewayKill = (sizing: Sizing): Promise<LoadRunResult> =>
  runUnderLoad({ ...sizing, inject: killGateway });

export const runRedisKill = (sizing: Sizing): Promise<LoadRunResult> =>
  runUnderLoad({ ...sizing, inject: killRedis });
