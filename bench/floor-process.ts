/**
 * The floor of scenarios 1 and 2: a bare `node:http` server that answers the load generator's
 * publish and publishBatch requests with one `Queue.add` / `Queue.addBulk` each, and nothing else
 * (no GraphQL, no validation, no envelope, no hash). Whatever this reaches against raw BullMQ is the
 * most any gateway in front of BullMQ over HTTP can reach on the machine, and it is measured in the
 * same run, so a ratio target above it can be told apart from one the gateway falls short of.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type JobsOptions, Queue } from 'bullmq';
import { DEFAULT_RAW_POLICY, rawJobOptions } from './load/bull-load.js';
import { benchRedis } from './redis-target.js';
import { serveRpc } from './rpc.js';

interface Input {
  topic: string;
  payload: unknown;
}
interface Body {
  variables?: { i?: Input; is?: Input[] };
}

const JOB_NAME = 'message';
const redisUrl = process.env.REDIS_URL;
const prefix = process.env.FLOOR_PREFIX;
if (!redisUrl || !prefix) throw new Error('floor-process needs REDIS_URL and FLOOR_PREFIX');
const connection = benchRedis(redisUrl);
const opts: JobsOptions = rawJobOptions(DEFAULT_RAW_POLICY);
const queues = new Map<string, Queue>();

/** One queue per topic the load names, as the raw side has one per run. */
function queue(name: string): Queue {
  let found = queues.get(name);
  if (!found) {
    found = new Queue(name, { connection, prefix });
    queues.set(name, found);
  }
  return found;
}

async function answer(body: Body): Promise<unknown> {
  const { i: one, is: many } = body.variables ?? {};
  if (one) {
    const job = await queue(one.topic).add(JOB_NAME, one.payload, opts);
    return { publish: { messageId: job.id } };
  }
  if (!many?.[0]) throw new Error('neither a publish nor a publishBatch');
  const jobs = await queue(many[0].topic).addBulk(
    many.map((input) => ({ name: JOB_NAME, data: input.payload, opts })),
  );
  return { publishBatch: jobs.map((job) => ({ messageId: job.id })) };
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    Promise.resolve()
      .then(() => answer(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Body))
      .then(
        (data) => send(res, 200, { data }),
        (error: unknown) => send(res, 500, { errors: [{ message: String(error) }] }),
      );
  });
});
server.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const address = server.address();
if (address === null || typeof address === 'string') throw new Error('floor server has no port');

const api = {
  url: async () => `http://127.0.0.1:${address.port}/graphql`,
  /** Removes a run's queue with its jobs, as the raw side's obliterate does. */
  async obliterate(name: string): Promise<void> {
    const found = queue(name);
    queues.delete(name);
    try {
      await found.obliterate({ force: true });
    } finally {
      await found.close();
    }
  },
};
export type FloorApi = typeof api;

serveRpc(api, async () => {
  server.closeAllConnections();
  server.close();
  await Promise.allSettled([...queues.values()].map((open) => open.close()));
  connection.disconnect();
});
