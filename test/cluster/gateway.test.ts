import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { createGateway, type Gateway } from '../../server/gateway.js';
import { uniquePrefix } from '../helpers/redis.js';
import { startTestCluster, type TestCluster, topicsOnDistinctMasters } from './cluster.js';

/** The gateway started from REDIS_CLUSTER_NODES: GraphQL over HTTP, health and bull-board on a cluster. */
let cluster: TestCluster;
const gateways: Gateway[] = [];

beforeAll(async () => {
  cluster = await startTestCluster();
}, 60_000);
afterEach(async () => {
  const stops = await Promise.allSettled(gateways.splice(0).map((gateway) => gateway.stop()));
  expect(stops.filter((result) => result.status === 'rejected')).toEqual([]);
});
afterAll(() => cluster?.stop());

interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

async function graphql(url: string, query: string): Promise<GraphQLBody> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as GraphQLBody;
}

describe('a gateway on REDIS_CLUSTER_NODES', () => {
  it('should publish over GraphQL, answer /health and serve bull-board, all on the cluster', async () => {
    const config = loadConfig({
      PORT: '0',
      REDIS_CLUSTER_NODES: cluster.ports.map((port) => `127.0.0.1:${port}`).join(','),
      // Not used: the cluster wins.
      REDIS_URL: 'redis://127.0.0.1:1',
      SWITCHYARD_PREFIX: uniquePrefix(),
      SWITCHYARD_LOG_LEVEL: 'silent',
    });
    const gateway = await createGateway(config, { version: '9.9.9-test' });
    gateways.push(gateway);
    const { url, port } = await gateway.start();

    const topics = await topicsOnDistinctMasters(cluster, 'gw', 2);
    for (const topic of topics) {
      const created = await graphql(
        url,
        `mutation { createTopic(input: { name: "${topic}", kind: FANOUT }) { name } createQueue(input: { topic: "${topic}", name: "q", target: CONSUMER }) { name } }`,
      );
      expect(created.errors).toBeUndefined();
    }
    const [one, two] = topics as [string, string];
    const published = await graphql(
      url,
      `mutation { a: publish(input: { topic: "${one}", payload: 1 }) { routedTo } b: publish(input: { topic: "${two}", payload: 2 }) { routedTo } }`,
    );
    expect(published).toEqual({ data: { a: { routedTo: ['q'] }, b: { routedTo: ['q'] } } });

    const spanning = await graphql(
      url,
      `mutation { publishBatch(inputs: [{ topic: "${one}", payload: 1 }, { topic: "${two}", payload: 2 }]) { messageId } }`,
    );
    expect(spanning.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(spanning.errors?.[0]?.message).toMatch(/Redis Cluster/);

    const received = await graphql(
      url,
      `mutation { receive(topic: "${two}", queue: "q", max: 5, waitMs: 0) { message { payload } } }`,
    );
    expect(received).toEqual({ data: { receive: [{ message: { payload: 2 } }] } });

    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    const board = await fetch(`http://127.0.0.1:${port}/queues/api/queues`);
    expect(board.status).toBe(200);
    const queues = (await board.json()) as { queues: { name: string }[] };
    expect(queues.queues.length).toBeGreaterThanOrEqual(2);
  });
});
