import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, SwitchyardError } from '../../queues/core/errors.js';
import { createPayloadSchemas } from '../../queues/publish/payload-schema.js';
import { createPublisher, ROUTING_TRIES } from '../../queues/publish/publisher.js';
import { type Commands, defineCommands } from '../../queues/redis/commands/index.js';
import { createGroupCommit, RoutingMovedError } from '../../queues/redis/group-commit.js';
import { createKeys, type Keys } from '../../queues/redis/keys.js';
import type { PublishCommit, RunPublishCommit } from '../../queues/redis/publish-commit.js';
import { createQueueHandles } from '../../queues/redis/queue-handles.js';
import { createRegistry } from '../../queues/registry/index.js';
import { startTestRedis, type TestRedis, uniquePrefix, waitFor } from '../helpers/redis.js';
import { serializedAdd } from '../helpers/serialized-add.js';

/**
 * publish-commit's routing check (`V` writes, PublishCommit.routedAt) and the publisher's bounded
 * retry around it: a publish routed at a topic's old routing version is refused whole, nothing of it
 * written, and routed again.
 */
let redis: TestRedis;
let client: Redis;
let commands: Commands;
let monitor: Redis | undefined;
/** Every command MONITOR has shown: its arguments and whether a script ran it. */
const seen: { args: string[]; lua: boolean }[] = [];
const closing: (() => Promise<unknown>)[] = [];
const run: RunPublishCommit = (keys, args) => commands.run('publish-commit-n', keys, args);

beforeAll(async () => {
  redis = await startTestRedis();
  client = redis.client();
  commands = defineCommands(client);
  monitor = await redis.client().monitor();
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    seen.push({ args: args.map(String), lua: source === 'lua' });
  });
});
afterAll(async () => {
  monitor?.disconnect();
  await Promise.allSettled(closing.map((close) => close()));
  await redis?.stop();
});

/** Waits until MONITOR has shown every command sent so far; answers how many it has shown. */
async function shown(): Promise<number> {
  const marker = `shown-${uniquePrefix()}`;
  await client.echo(marker);
  await waitFor(() => seen.some(({ args }) => args.includes(marker)), { timeoutMs: 5000 });
  return seen.length;
}

function queueOf(keys: Keys, topic: string, name: string): Queue {
  const queue = new Queue(name, { connection: client, prefix: keys.bullPrefix(topic) });
  closing.push(() => queue.close());
  return queue;
}

/** Every kind of write one publish makes, into `queue` of `topic`, routed at `version`. */
function writeEverything(commit: PublishCommit, keys: Keys, queue: Queue, topic: string, id: string): void {
  commit.add(queue, serializedAdd(id, 0));
  commit.appliedIf(keys.idempotency(topic, id), id);
  commit.set(keys.idempotency(topic, id), id, 60_000);
  commit.hincrby(keys.topicStats(topic), 'published', 1);
  const x = commit.history(
    { key: keys.topicHistory(topic), ids: keys.topicHistoryIds(topic), messageId: id },
    Buffer.from(`{"id":"${id}"}`),
    100,
    0,
  );
  commit.publishWithCursor(x, keys.live.messages(topic), `{"id":"${id}"}`);
  commit.publish(keys.live.events(topic), `{"id":"${id}"}`);
}

/** What a topic holds after the writes above: jobs, idempotency key, count, history, index. */
async function written(keys: Keys, queue: Queue, topic: string, id: string) {
  return {
    jobs: (await queue.getJobs()).length,
    idempotency: await client.get(keys.idempotency(topic, id)),
    published: await client.hget(keys.topicStats(topic), 'published'),
    history: await client.xlen(keys.topicHistory(topic)),
    indexed: await client.hlen(keys.topicHistoryIds(topic)),
  };
}

describe('publish-commit: the routing version', () => {
  it('should refuse whole a publish routed at a version Redis no longer holds, naming each topic that moved, and apply the others of the call', async () => {
    const keys = createKeys(uniquePrefix());
    const [moved, other, current] = ['t1', 't2', 't3'] as const;
    const queues = {
      moved: queueOf(keys, moved, 'q'),
      other: queueOf(keys, other, 'q'),
      current: queueOf(keys, current, 'q'),
    };
    await client.set(keys.topicRouting(moved), '2');
    await client.set(keys.topicRouting(other), '5');
    // t3 has no version yet: a missing key is version '0'.
    const live: string[] = [];
    const listener = redis.client();
    closing.push(() => listener.quit());
    await listener.psubscribe(keys.live.pattern);
    listener.on('pmessage', (_pattern: string, _channel: string, message: string) => live.push(message));

    const commits = createGroupCommit({ run });
    const results = await Promise.allSettled([
      commits.commit((commit) => {
        commit.routedAt(keys.topicRouting(moved), moved, '1');
        commit.routedAt(keys.topicRouting(other), other, '4');
        writeEverything(commit, keys, queues.moved, moved, 'refused-1');
        writeEverything(commit, keys, queues.other, other, 'refused-2');
      }, 2),
      commits.commit((commit) => {
        commit.routedAt(keys.topicRouting(current), current, '0');
        writeEverything(commit, keys, queues.current, current, 'applied');
      }),
    ]);

    const [refused, applied] = results;
    expect(applied?.status).toBe('fulfilled');
    expect(refused?.status).toBe('rejected');
    const reason = (refused as PromiseRejectedResult).reason as unknown;
    expect(reason).toBeInstanceOf(RoutingMovedError);
    expect((reason as RoutingMovedError).topics).toEqual([moved, other]);
    const nothing = { jobs: 0, idempotency: null, published: null, history: 0, indexed: 0 };
    expect(await written(keys, queues.moved, moved, 'refused-1')).toEqual(nothing);
    expect(await written(keys, queues.other, other, 'refused-2')).toEqual(nothing);
    expect(await written(keys, queues.current, current, 'applied')).toEqual({
      jobs: 1,
      idempotency: 'applied',
      published: '1',
      history: 1,
      // The message's entry and the index's `~since` field.
      indexed: 2,
    });
    // The check reads versions and writes none.
    expect(await client.mget(keys.topicRouting(moved), keys.topicRouting(current))).toEqual(['2', null]);
    // Only the applied publish reached the live channels (both of its PUBLISHes).
    await client.publish(keys.live.events(current), 'marker');
    await waitFor(() => live.includes('marker'), { timeoutMs: 2000 });
    expect(
      live.filter((message) => message !== 'marker').every((message) => message.includes('"applied"')),
    ).toBe(true);
    expect(live.filter((message) => message !== 'marker')).toHaveLength(2);
  });
});

/** A registry and queue handles of a key prefix of their own, closed after the file. */
async function registryAndHandles() {
  const keys = createKeys(uniquePrefix());
  const registry = createRegistry({
    client,
    subscriber: redis.client(),
    keys,
    defaultMaxMessageBytes: 1 << 20,
    checkPayloadSchema: () => {},
  });
  const handles = createQueueHandles(client, keys);
  closing.push(
    () => registry.close(),
    () => handles.close(),
  );
  await registry.ready();
  return { keys, registry, handles };
}

describe('the publisher: routing again after a refusal', () => {
  it(`should answer UNAVAILABLE after ${ROUTING_TRIES} tries whose routing kept moving, nothing written and no idempotency key kept`, async () => {
    const { keys, registry, handles } = await registryAndHandles();
    await registry.createTopic({ name: 'orders', kind: 'FANOUT', history: { maxMessages: 10 } });
    await registry.createQueue({ topic: 'orders', name: 'q', target: 'CONSUMER' });
    let moving = true;
    let sends = 0;
    const publisher = createPublisher({
      client,
      keys,
      registry,
      handles,
      schemas: createPayloadSchemas(),
      commands,
      dedupWindowMs: 60_000,
      // Another instance's change landing between routing and sending, every time: sent on the
      // publisher's own connection, so Redis runs it right before the publish-commit call.
      beforeExec: () => {
        sends++;
        if (moving) void client.incr(keys.topicRouting('orders'));
      },
    });

    const error = await publisher.publish({ topic: 'orders', payload: 1, idempotencyKey: 'k' }).then(
      () => null,
      (reason: unknown) => reason,
    );

    expect(error).toBeInstanceOf(SwitchyardError);
    expect((error as SwitchyardError).code).toBe(ErrorCode.Unavailable);
    expect((error as SwitchyardError).details).toMatchObject({
      reason: 'ROUTING_CHANGING',
      topics: ['orders'],
    });
    expect(sends).toBe(ROUTING_TRIES);
    const queue = handles.get('orders', 'q');
    expect(await queue.getJobs()).toEqual([]);
    expect(await client.get(keys.idempotency('orders', 'k'))).toBeNull();
    expect(await client.hgetall(keys.topicStats('orders'))).toEqual({});
    expect(await client.xlen(keys.topicHistory('orders'))).toBe(0);

    // Once the routing holds still, the same key publishes, and only once.
    moving = false;
    const result = await publisher.publish({ topic: 'orders', payload: 2, idempotencyKey: 'k' });
    expect(result).toMatchObject({ duplicate: false, routedTo: ['q'] });
    expect((await queue.getJobs()).map((job) => job.id)).toEqual([result.messageId]);
    expect(await client.get(keys.idempotency('orders', 'k'))).toBe(result.messageId);
  });

  it('should read a topic whose routing moved once for all the publishes refused together', async () => {
    const { keys, registry, handles } = await registryAndHandles();
    // Heard twice: at once here, then as the registry channel brings it back; the echo drops the
    // topic's routing, so it must be in before the routing is read.
    let heard = 0;
    registry.onChange((change) => {
      if (change.queue === 'q') heard++;
    });
    await registry.createTopic({ name: 'orders', kind: 'FANOUT' });
    await registry.createQueue({ topic: 'orders', name: 'q', target: 'CONSUMER' });
    await waitFor(() => heard === 2, { timeoutMs: 2000 });
    let first = true;
    const publisher = createPublisher({
      client,
      keys,
      registry,
      handles,
      schemas: createPayloadSchemas(),
      commands,
      dedupWindowMs: 60_000,
      beforeExec: () => {
        if (first) void client.incr(keys.topicRouting('orders'));
        first = false;
      },
    });
    await registry.routingOf(['orders']);
    const from = await shown();

    const results = await Promise.all(
      Array.from({ length: 10 }, (_, index) => publisher.publish({ topic: 'orders', payload: index })),
    );

    expect(results.every((result) => result.routedTo.join() === 'q')).toBe(true);
    expect(await handles.get('orders', 'q').getJobs()).toHaveLength(10);
    // Each routing read starts with a GET of the topic's version (publish-commit's own are in Lua).
    const to = await shown();
    const reads = seen
      .slice(from, to)
      .filter(
        ({ args: [command, key], lua }) =>
          !lua && command?.toLowerCase() === 'get' && key === keys.topicRouting('orders'),
      );
    expect(reads).toHaveLength(1);
  });
});
