/**
 * One side of `npm run bench:ab` (bench/ab.ts): the gateway built from one revision, loaded from the
 * dist/ folder AB_DIST names (a temporary worktree's build), in a process of its own so that its CPU
 * is its own. Configured as bench/gateway-process.ts configures the bench's gateway.
 */
import type * as Config from '../server/config.js';
import type * as Gateway from '../server/gateway.js';
import { serveRpc } from './rpc.js';

const dist = process.env.AB_DIST;
if (!dist) throw new Error('AB_DIST must name the dist/ folder of the revision to run');

// Typed by this tree's sources: the revisions compared are close enough that these calls agree.
const [{ createGateway }, { loadConfig }] = await Promise.all([
  import(`${dist}/server/gateway.js`) as Promise<typeof Gateway>,
  import(`${dist}/server/config.js`) as Promise<typeof Config>,
]);
const gateway = await createGateway(loadConfig(process.env));
const { url } = await gateway.start();
const { engine } = gateway;

const api = {
  url: async () => url,
  /** This process's CPU so far (µs of user and system time), read before and after each round. */
  cpu: async () => {
    const { user, system } = process.cpuUsage();
    return user + system;
  },
  /** One FANOUT topic with one CONSUMER queue, `q`: the topology of scenarios 1 and 6. */
  async createTopology(topic: string): Promise<void> {
    await engine.createTopic({ name: topic, kind: 'FANOUT', history: null });
    await engine.createQueue({ topic, name: 'q', target: 'CONSUMER' });
  },
  /** Deletes the topic and its queue with their messages, so rounds do not pile up in Redis. */
  async deleteTopology(topic: string): Promise<void> {
    for (const queue of await engine.queues(topic)) await engine.deleteQueue(topic, queue.name);
    await engine.deleteTopic(topic);
  },
};
export type AbGatewayApi = typeof api;

serveRpc(api, () => gateway.stop());
