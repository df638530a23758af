import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import type { Engine } from '../../queues/engine/engine.js';
import type { PublishInput } from '../../queues/publish/publisher.js';
import type { CreateQueueInput, CreateTopicInput } from '../../queues/registry/registry.js';
import { expectRefusal, settledStats, useEngineHarness } from './harness.js';

const harness = useEngineHarness();

/**
 * Everything a refused request could have touched: topics, queues, every queue's job counts and every
 * topic's counters. Refusals are checked against it so that none of them half-applies.
 */
async function snapshot(engine: Engine) {
  const topics = await engine.topics();
  return Promise.all(
    topics.map(async (topic) => {
      const queues = await engine.queues(topic.name);
      return {
        topic,
        counters: await engine.topicStats(topic.name),
        queues: await Promise.all(
          queues.map(async (queue) => ({ queue, stats: await settledStats(engine, queue) })),
        ),
      };
    }),
  );
}

/** An engine with one topic of each kind, a queue on each, and one message already published. */
async function populated(): Promise<Engine> {
  const engine = await harness.engine();
  await engine.createTopic({ name: 'fan', kind: 'FANOUT', maxMessageBytes: 64 });
  await engine.createTopic({ name: 'direct', kind: 'DIRECT' });
  await engine.createTopic({ name: 'topic', kind: 'TOPIC' });
  await engine.createTopic({ name: 'headers', kind: 'HEADERS' });
  await engine.createQueue({ topic: 'fan', name: 'pull', target: 'CONSUMER' });
  await engine.createQueue({ topic: 'fan', name: 'hook', target: 'WEBHOOK', url: 'http://127.0.0.1:9/hook' });
  await engine.pauseQueue('fan', 'hook');
  await engine.createQueue({ topic: 'direct', name: 'pull', target: 'CONSUMER', bindingKey: 'k' });
  await engine.createQueue({ topic: 'topic', name: 'pull', target: 'CONSUMER', bindingKey: 'a.*' });
  await engine.createQueue({ topic: 'headers', name: 'pull', target: 'CONSUMER', headers: { h: 'v' } });
  await engine.publish({ topic: 'fan', payload: 'seed' });
  return engine;
}

/** Runs each refused call and checks that the engine's whole state is exactly as before. */
async function expectNoChange(
  engine: Engine,
  calls: ReadonlyArray<readonly [label: string, call: () => Promise<unknown>]>,
  code: ErrorCode,
): Promise<void> {
  const before = await snapshot(engine);
  for (const [label, call] of calls) {
    const error = await call().then(
      () => null,
      (reason: unknown) => reason,
    );
    expect(error, label).toMatchObject({ name: 'SwitchyardError', code });
  }
  expect(await snapshot(engine)).toEqual(before);
}

const queue = (input: Partial<CreateQueueInput>): CreateQueueInput => ({
  topic: 'fan',
  name: 'fresh',
  target: 'CONSUMER',
  ...input,
});

describe('BAD_USER_INPUT', () => {
  it('should refuse bad topic and queue names', async () => {
    const engine = await populated();
    const badNames = ['', 'has space', 'a:b', '{tag}', 'x'.repeat(129), 'é'];
    await expectNoChange(
      engine,
      [
        ...badNames.map(
          (name) => [`topic ${name}`, () => engine.createTopic({ name, kind: 'FANOUT' })] as const,
        ),
        ...badNames.map((name) => [`queue ${name}`, () => engine.createQueue(queue({ name }))] as const),
        ['bad kind', () => engine.createTopic({ name: 'k', kind: 'FANCY' as CreateTopicInput['kind'] })],
        ['bad target', () => engine.createQueue(queue({ target: 'PIGEON' as CreateQueueInput['target'] }))],
      ],
      ErrorCode.BadUserInput,
    );
  });

  it('should refuse bad webhook URLs', async () => {
    const engine = await populated();
    const webhook = (url: string | null) => () => engine.createQueue(queue({ target: 'WEBHOOK', url }));
    await expectNoChange(
      engine,
      [
        ['not a URL', webhook('not a url')],
        ['relative', webhook('/hook')],
        ['ftp', webhook('ftp://127.0.0.1/hook')],
        ['missing', webhook(null)],
        ['too long', webhook(`http://127.0.0.1/${'x'.repeat(2100)}`)],
        ['url on a consumer', () => engine.createQueue(queue({ url: 'http://127.0.0.1/hook' }))],
        ['update to a bad url', () => engine.updateQueue('fan', 'hook', { url: 'mailto:a@b.c' })],
      ],
      ErrorCode.BadUserInput,
    );
  });

  it('should refuse bindings that do not fit the topic kind', async () => {
    const engine = await populated();
    await expectNoChange(
      engine,
      [
        ['FANOUT with a key', () => engine.createQueue(queue({ bindingKey: 'k' }))],
        ['FANOUT with headers', () => engine.createQueue(queue({ headers: { a: 'b' } }))],
        ['DIRECT without a key', () => engine.createQueue(queue({ topic: 'direct' }))],
        [
          'DIRECT with headers',
          () => engine.createQueue(queue({ topic: 'direct', bindingKey: 'k', headers: { a: 'b' } })),
        ],
        [
          'TOPIC with a glued wildcard',
          () => engine.createQueue(queue({ topic: 'topic', bindingKey: 'a.b*' })),
        ],
        [
          'TOPIC with headerMatch',
          () => engine.createQueue(queue({ topic: 'topic', bindingKey: 'a', headerMatch: 'ANY' })),
        ],
        ['HEADERS without headers', () => engine.createQueue(queue({ topic: 'headers' }))],
        ['HEADERS with a number', () => engine.createQueue(queue({ topic: 'headers', headers: { a: 1 } }))],
        ['HEADERS with no entries', () => engine.createQueue(queue({ topic: 'headers', headers: {} }))],
        ['update to no key', () => engine.updateQueue('direct', 'pull', { bindingKey: null })],
      ],
      ErrorCode.BadUserInput,
    );
  });

  it('should refuse bad queue settings', async () => {
    const engine = await populated();
    await expectNoChange(
      engine,
      [
        ['0 attempts', () => engine.createQueue(queue({ retry: { maxAttempts: 0 } }))],
        ['cap below delay', () => engine.createQueue(queue({ retry: { delayMs: 500, maxDelayMs: 100 } }))],
        ['0 concurrency', () => engine.createQueue(queue({ concurrency: 0 }))],
        ['tiny ackTimeoutMs', () => engine.createQueue(queue({ ackTimeoutMs: 10 }))],
        ['maxPriority below 0', () => engine.createQueue(queue({ maxPriority: -1 }))],
        ['maxPriority above 9', () => engine.createQueue(queue({ maxPriority: 10 }))],
        ['fractional maxPriority', () => engine.createQueue(queue({ maxPriority: 2.5 }))],
        ['update concurrency', () => engine.updateQueue('fan', 'pull', { concurrency: 1.5 })],
      ],
      ErrorCode.BadUserInput,
    );
  });

  it('should refuse bad publish options', async () => {
    const engine = await populated();
    const publish = (input: Partial<PublishInput>) => () =>
      engine.publish({ topic: 'fan', payload: 1, ...input });
    await expectNoChange(
      engine,
      [
        ['priority 10', publish({ priority: 10 })],
        ['priority -1', publish({ priority: -1 })],
        ['priority 1.5', publish({ priority: 1.5 })],
        ['negative delay', publish({ delayMs: -1 })],
        ['delay equal to ttl', publish({ delayMs: 100, ttlMs: 100 })],
        ['delay beyond ttl', publish({ delayMs: 500, ttlMs: 100 })],
        ['ttl 0', publish({ ttlMs: 0 })],
        ['number header', publish({ headers: { a: 1 } })],
        ['nested header', publish({ headers: { a: { b: 'c' } } })],
        ['array headers', publish({ headers: ['a'] })],
        ['no payload', publish({ payload: undefined })],
        ['empty correlationId', publish({ correlationId: '' })],
        [
          'long routing key',
          () => engine.publish({ topic: 'direct', payload: 1, routingKey: 'k'.repeat(256) }),
        ],
      ],
      ErrorCode.BadUserInput,
    );
  });
});

describe('NOT_FOUND', () => {
  it('should refuse unknown topics and queues', async () => {
    const engine = await populated();
    await expectNoChange(
      engine,
      [
        ['publish', () => engine.publish({ topic: 'nope', payload: 1 })],
        ['createQueue', () => engine.createQueue(queue({ topic: 'nope' }))],
        ['updateQueue', () => engine.updateQueue('fan', 'nope', { concurrency: 2 })],
        ['updateQueue topic', () => engine.updateQueue('nope', 'pull', { concurrency: 2 })],
        ['deleteQueue', () => engine.deleteQueue('fan', 'nope')],
        ['deleteTopic', () => engine.deleteTopic('nope')],
        ['pauseQueue', () => engine.pauseQueue('fan', 'nope')],
        ['resumeQueue', () => engine.resumeQueue('nope', 'pull')],
        ['receive', () => engine.receive('fan', 'nope', 1, 0)],
      ],
      ErrorCode.NotFound,
    );
    expect(await engine.topic('nope')).toBeNull();
    expect(await engine.queue('fan', 'nope')).toBeNull();
  });
});

describe('CONFLICT', () => {
  it('should refuse duplicate topics and queues, and deleting a topic that has queues', async () => {
    const engine = await populated();
    await expectNoChange(
      engine,
      [
        ['duplicate topic', () => engine.createTopic({ name: 'fan', kind: 'DIRECT' })],
        ['duplicate queue', () => engine.createQueue(queue({ name: 'hook' }))],
        ['topic with queues', () => engine.deleteTopic('fan')],
      ],
      ErrorCode.Conflict,
    );
    expect((await engine.topic('fan'))?.kind).toBe('FANOUT');
    expect((await engine.queue('fan', 'hook'))?.target).toBe('WEBHOOK');
  });
});

describe('PAYLOAD_TOO_LARGE', () => {
  it('should refuse a payload over the topic maxMessageBytes and take one exactly at it', async () => {
    const engine = await populated();
    const atLimit = 'x'.repeat(62); // 62 characters plus two quotes: 64 bytes of canonical JSON
    const overLimit = 'é'.repeat(32); // 32 characters, but 66 bytes
    await expectNoChange(
      engine,
      [['over the limit', () => engine.publish({ topic: 'fan', payload: overLimit })]],
      ErrorCode.PayloadTooLarge,
    );
    const refusal = await expectRefusal(
      engine.publish({ topic: 'fan', payload: overLimit }),
      ErrorCode.PayloadTooLarge,
    );
    expect(refusal.details).toEqual({ sizeBytes: 66, maxMessageBytes: 64 });

    const accepted = await engine.publish({ topic: 'fan', payload: atLimit });
    expect(accepted.message?.sizeBytes).toBe(64);
  });

  it('should apply the engine default to topics that set no limit', async () => {
    const engine = await harness.engine({ defaultMaxMessageBytes: 10 });
    const topic = await engine.createTopic({ name: 'small', kind: 'FANOUT' });
    expect(topic.maxMessageBytes).toBe(10);
    await expectRefusal(
      engine.publish({ topic: 'small', payload: 'x'.repeat(9) }),
      ErrorCode.PayloadTooLarge,
    );
    expect(await engine.topicStats('small')).toMatchObject({ published: 0 });
  });
});

describe('VALIDATION', () => {
  it('should refuse a payload that breaks the topic schema, naming the path', async () => {
    const engine = await populated();
    await engine.createTopic({
      name: 'typed',
      kind: 'FANOUT',
      payloadSchema: {
        type: 'object',
        required: ['order'],
        properties: {
          order: {
            type: 'object',
            required: ['qty'],
            properties: {
              qty: { type: 'integer', minimum: 1 },
              lines: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    });
    await engine.createQueue({ topic: 'typed', name: 'pull', target: 'CONSUMER' });

    const qty = await expectRefusal(
      engine.publish({ topic: 'typed', payload: { order: { qty: 0 } } }),
      ErrorCode.Validation,
      /payload\/order\/qty/,
    );
    expect(qty.details).toMatchObject({ path: 'payload/order/qty', keyword: 'minimum' });
    await expectRefusal(
      engine.publish({ topic: 'typed', payload: { order: { qty: 1, lines: ['a', 2] } } }),
      ErrorCode.Validation,
      /payload\/order\/lines\/1/,
    );
    await expectNoChange(
      engine,
      [
        ['missing order', () => engine.publish({ topic: 'typed', payload: {} })],
        ['not an object', () => engine.publish({ topic: 'typed', payload: 'order' })],
      ],
      ErrorCode.Validation,
    );
    expect((await engine.publish({ topic: 'typed', payload: { order: { qty: 2 } } })).routedTo).toEqual([
      'pull',
    ]);
  });

  it('should refuse a topic whose schema is not a valid JSON Schema, creating nothing', async () => {
    const engine = await populated();
    await expectNoChange(
      engine,
      [
        [
          'bad type',
          () => engine.createTopic({ name: 'typed', kind: 'FANOUT', payloadSchema: { type: 'banana' } }),
        ],
        [
          'not an object',
          () => engine.createTopic({ name: 'typed', kind: 'FANOUT', payloadSchema: 'string' }),
        ],
      ],
      ErrorCode.BadUserInput,
    );
  });
});
