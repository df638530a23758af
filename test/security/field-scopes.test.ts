import { isObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../schema/index.js';
import { createYogaApp } from '../../server/yoga.js';
import { useEngineHarness } from '../engine/harness.js';
import { waitFor } from '../helpers/redis.js';
import {
  type Body,
  type Fixture,
  openStream,
  refusal,
  type ScopedApp,
  startScopedApp,
} from './scoped-app.js';

const harness = useEngineHarness();

interface Operation {
  /** The root field, as `Type.field`. */
  field: string;
  query: string;
  variables?: (fixture: Fixture) => Record<string, unknown>;
  /** Scopes of one key that must be let through. */
  grant: string[];
  /** Key scope sets that must be refused with FORBIDDEN, and the scope the refusal must name. */
  deny: Array<[string[], string]>;
  /** For a granted subscription: what makes it produce its first result. */
  trigger?: (app: ScopedApp) => Promise<unknown>;
  /**
   * Past auth, the refusal a granted key gets where the fixture cannot make the field succeed (a
   * request nobody answers, a reply to a message that expects none): proof the scope let it through.
   */
  grantedCode?: string;
}

const NOT_ADMIN: Array<[string[], string]> = [
  [['stats'], 'admin'],
  [['publish:#', 'consume:#', 'subscribe:#', 'deadletters:read:#', 'deadletters:write:#'], 'admin'],
];
/**
 * An alert transition on every call: the fixture's nacked delivery needed 1 attempt, so a RETRIES
 * threshold of 1 fires and 0 (off) resolves it.
 */
async function toggleRetriesAlert(app: ScopedApp) {
  const firing = (await app.engine.alerts()).some((alert) => alert.kind === 'RETRIES');
  await app.engine.updateQueue('orders.eu', 'work', { alerts: { maxAttempts: firing ? 0 : 1 } });
  return app.engine.evaluateAlerts();
}
const publishOrders = (app: ScopedApp) =>
  app.engine.publish({ topic: 'orders.eu', routingKey: 'x', payload: { at: Date.now() } });

const OPERATIONS: Operation[] = [
  // Reading topology: any key (what it sees is tested below).
  { field: 'Query.topics', query: '{ topics { name } }', grant: ['publish:nothing'], deny: [] },
  { field: 'Query.topic', query: '{ topic(name: "orders.eu") { name } }', grant: ['stats'], deny: [] },
  {
    field: 'Query.queue',
    query: '{ queue(topic: "orders.eu", name: "work") { name } }',
    grant: ['consume:orders.eu'],
    deny: [],
  },
  { field: 'Query.health', query: '{ health { ok } }', grant: ['publish:nothing'], deny: [] },
  {
    field: 'Query.stats',
    query: '{ stats { publishedPerSecond } }',
    grant: ['stats'],
    deny: [[['publish:#', 'subscribe:#'], 'stats']],
  },
  {
    field: 'Query.alerts',
    query: '{ alerts { id } }',
    grant: ['stats'],
    deny: [[['publish:#', 'deadletters:read:#'], 'stats']],
  },
  {
    field: 'Query.deadLetters',
    query: '{ deadLetters(filter: { topic: "orders.eu" }) { totalCount } }',
    grant: ['deadletters:read:orders.*'],
    deny: [
      [['deadletters:read:invoices'], 'deadletters:read:orders.eu'],
      [['deadletters:write:#', 'consume:#'], 'deadletters:read:orders.eu'],
    ],
  },
  {
    field: 'Query.deadLetters',
    query: '{ deadLetters { totalCount } }',
    grant: ['deadletters:read:#'],
    deny: [[['deadletters:read:orders.*', 'deadletters:read:invoices'], 'deadletters:read:#']],
  },
  {
    field: 'Query.deadLetter',
    query: 'query ($id: ID!) { deadLetter(id: $id) { id } }',
    variables: ({ deadLetterId }) => ({ id: deadLetterId }),
    grant: ['deadletters:read:orders.#'],
    deny: [[['deadletters:read:invoices', 'deadletters:write:#'], 'deadletters:read:orders.eu']],
  },
  { field: 'Query.apiKeys', query: '{ apiKeys { id } }', grant: ['admin'], deny: NOT_ADMIN },
  { field: 'Query.auditLog', query: '{ auditLog { id } }', grant: ['admin'], deny: NOT_ADMIN },
  // Topology and keys: admin.
  {
    field: 'Mutation.createTopic',
    query: 'mutation { createTopic(input: { name: "new", kind: FANOUT }) { name } }',
    grant: ['admin'],
    deny: NOT_ADMIN,
  },
  {
    field: 'Mutation.deleteTopic',
    query: 'mutation { deleteTopic(name: "invoices") }',
    grant: ['admin'],
    deny: NOT_ADMIN,
  },
  {
    field: 'Mutation.createQueue',
    query: 'mutation { createQueue(input: { topic: "invoices", name: "q", target: CONSUMER }) { name } }',
    grant: ['admin'],
    deny: NOT_ADMIN,
  },
  {
    field: 'Mutation.updateQueue',
    query: 'mutation { updateQueue(topic: "orders.eu", name: "work", input: { concurrency: 3 }) { name } }',
    grant: ['admin'],
    deny: NOT_ADMIN,
  },
  {
    field: 'Mutation.deleteQueue',
    query: 'mutation { deleteQueue(topic: "orders.eu", name: "hook") }',
    grant: ['admin'],
    deny: NOT_ADMIN,
  },
  {
    field: 'Mutation.pauseQueue',
    query: 'mutation { pauseQueue(topic: "orders.eu", name: "work") { paused } }',
    grant: ['admin'],
    deny: NOT_ADMIN,
  },
  {
    field: 'Mutation.resumeQueue',
    query: 'mutation { resumeQueue(topic: "orders.eu", name: "work") { paused } }',
    grant: ['admin'],
    deny: NOT_ADMIN,
  },
  {
    field: 'Mutation.rotateSigningSecret',
    query: 'mutation { rotateSigningSecret(topic: "orders.eu", name: "hook") { name } }',
    grant: ['admin'],
    deny: NOT_ADMIN,
  },
  {
    field: 'Mutation.createApiKey',
    query: 'mutation { createApiKey(name: "more", scopes: ["admin"]) { key { id } } }',
    grant: ['admin'],
    deny: NOT_ADMIN,
  },
  {
    field: 'Mutation.revokeApiKey',
    query: 'mutation { revokeApiKey(id: "no-such-key") }',
    grant: ['admin'],
    deny: NOT_ADMIN,
  },
  // The data plane: per topic.
  {
    field: 'Mutation.publish',
    query: 'mutation { publish(input: { topic: "orders.eu", payload: { n: 3 } }) { messageId } }',
    grant: ['publish:orders.*'],
    deny: [
      [['publish:invoices', 'publish:orders'], 'publish:orders.eu'],
      [['consume:#', 'subscribe:#', 'stats'], 'publish:orders.eu'],
    ],
  },
  {
    field: 'Mutation.publishBatch',
    query:
      'mutation { publishBatch(inputs: [{ topic: "orders.eu", payload: 1 }, { topic: "invoices", payload: 2 }]) { messageId } }',
    grant: ['publish:orders.*', 'publish:invoices'],
    deny: [
      [['publish:orders.*'], 'publish:invoices'],
      [['publish:invoices'], 'publish:orders.eu'],
    ],
  },
  {
    field: 'Mutation.receive',
    query: 'mutation { receive(topic: "orders.eu", queue: "work") { id } }',
    grant: ['consume:orders.eu'],
    deny: [[['consume:invoices', 'publish:#', 'subscribe:#'], 'consume:orders.eu']],
  },
  {
    field: 'Mutation.ack',
    query: 'mutation ($id: ID!) { ack(deliveryId: $id) }',
    variables: ({ deliveryId }) => ({ id: deliveryId }),
    grant: ['consume:orders.#'],
    deny: [[['consume:invoices', 'publish:#'], 'consume:orders.eu']],
  },
  {
    field: 'Mutation.nack',
    query: 'mutation ($id: ID!) { nack(deliveryId: $id, reason: REJECTED) }',
    variables: ({ deliveryId }) => ({ id: deliveryId }),
    grant: ['consume:*.eu'],
    deny: [[['consume:invoices', 'deadletters:write:#'], 'consume:orders.eu']],
  },
  {
    field: 'Mutation.replayDeadLetter',
    query: 'mutation ($id: ID!) { replayDeadLetter(id: $id) { replayed } }',
    variables: ({ deadLetterId }) => ({ id: deadLetterId }),
    grant: ['deadletters:write:orders.eu'],
    deny: [[['deadletters:read:#', 'deadletters:write:invoices'], 'deadletters:write:orders.eu']],
  },
  {
    field: 'Mutation.replayDeadLetters',
    query: 'mutation { replayDeadLetters(filter: { topic: "orders.eu" }) { replayed } }',
    grant: ['deadletters:write:orders.*'],
    deny: [[['deadletters:read:#'], 'deadletters:write:orders.eu']],
  },
  {
    field: 'Mutation.replayDeadLetters',
    query: 'mutation { replayDeadLetters(filter: {}) { replayed } }',
    grant: ['deadletters:write:#'],
    deny: [[['deadletters:write:orders.*', 'deadletters:write:invoices'], 'deadletters:write:#']],
  },
  {
    field: 'Mutation.discardDeadLetter',
    query: 'mutation ($id: ID!) { discardDeadLetter(id: $id) }',
    variables: ({ deadLetterId }) => ({ id: deadLetterId }),
    grant: ['deadletters:write:orders.eu'],
    deny: [[['deadletters:read:orders.eu', 'stats'], 'deadletters:write:orders.eu']],
  },
  {
    field: 'Mutation.discardDeadLetters',
    query: 'mutation { discardDeadLetters(filter: { reason: REJECTED }) }',
    grant: ['deadletters:write:#'],
    deny: [[['deadletters:write:orders.eu'], 'deadletters:write:#']],
  },
  // Live streams: checked when they start.
  {
    field: 'Subscription.messages',
    query: 'subscription { messages(topic: "orders.eu") { id } }',
    grant: ['subscribe:orders.*'],
    deny: [[['subscribe:invoices', 'consume:#', 'publish:#'], 'subscribe:orders.eu']],
    trigger: publishOrders,
  },
  {
    field: 'Subscription.consume',
    query: 'subscription { consume(topic: "orders.eu", queue: "work") { id } }',
    grant: ['consume:orders.eu'],
    deny: [[['subscribe:#', 'consume:invoices'], 'consume:orders.eu']],
    trigger: publishOrders,
  },
  {
    field: 'Subscription.deliveryEvents',
    query: 'subscription { deliveryEvents(topic: "orders.eu") { kind } }',
    grant: ['subscribe:orders.eu'],
    deny: [[['subscribe:invoices', 'stats'], 'subscribe:orders.eu']],
    trigger: publishOrders,
  },
  {
    field: 'Subscription.deliveryEvents',
    query: 'subscription { deliveryEvents { kind } }',
    grant: ['subscribe:#'],
    deny: [[['subscribe:orders.*', 'subscribe:invoices'], 'subscribe:#']],
    trigger: publishOrders,
  },
  {
    field: 'Query.topicHistory',
    query: '{ topicHistory(topic: "orders.eu") { edges { cursor } } }',
    grant: ['subscribe:orders.*'],
    deny: [[['subscribe:invoices', 'consume:#', 'stats'], 'subscribe:orders.eu']],
    // The fixture's topic keeps no history.
    grantedCode: 'BAD_USER_INPUT',
  },
  {
    field: 'Query.message',
    query: '{ message(topic: "orders.eu", id: "m") { id } }',
    grant: ['subscribe:orders.eu'],
    deny: [[['subscribe:invoices', 'consume:#', 'stats'], 'subscribe:orders.eu']],
  },
  {
    field: 'Query.replayTask',
    query: '{ replayTask(id: "r") { id } }',
    grant: ['stats'],
    deny: [[['publish:#', 'deadletters:write:#'], 'stats']],
  },
  {
    field: 'Query.replayTasks',
    query: '{ replayTasks { id } }',
    grant: ['stats'],
    deny: [[['publish:#', 'deadletters:write:#'], 'stats']],
  },
  {
    field: 'Mutation.resetCircuit',
    query: 'mutation { resetCircuit(topic: "orders.eu", name: "hook") { name } }',
    grant: ['admin'],
    deny: NOT_ADMIN,
  },
  {
    field: 'Mutation.request',
    query: 'mutation { request(input: { topic: "orders.eu", payload: 1 }, timeoutMs: 100) { messageId } }',
    grant: ['publish:orders.*'],
    deny: [[['publish:invoices', 'consume:#', 'subscribe:#'], 'publish:orders.eu']],
    grantedCode: 'TIMEOUT',
  },
  {
    field: 'Mutation.reply',
    query: 'mutation ($id: ID!) { reply(deliveryId: $id, payload: 1) }',
    variables: ({ deliveryId }) => ({ id: deliveryId }),
    grant: ['consume:orders.#'],
    deny: [[['consume:invoices', 'publish:#'], 'consume:orders.eu']],
    grantedCode: 'BAD_USER_INPUT',
  },
  {
    field: 'Mutation.replayTopic',
    query: 'mutation { replayTopic(topic: "orders.eu", queue: "work", from: "2024-01-01T00:00:00Z") { id } }',
    grant: ['admin'],
    deny: NOT_ADMIN,
    // The fixture's topic keeps no history.
    grantedCode: 'BAD_USER_INPUT',
  },
  {
    field: 'Mutation.cancelReplayTask',
    query: 'mutation { cancelReplayTask(id: "r") { id } }',
    grant: ['admin'],
    deny: NOT_ADMIN,
    grantedCode: 'NOT_FOUND',
  },
  {
    field: 'Subscription.alerts',
    query: 'subscription { alerts { at } }',
    grant: ['stats'],
    deny: [[['subscribe:#', 'publish:#'], 'stats']],
    trigger: toggleRetriesAlert,
  },
  {
    field: 'Subscription.stats',
    query: 'subscription { stats(intervalMs: 100) { windowMs } }',
    grant: ['stats'],
    deny: [[['subscribe:#', 'publish:#'], 'stats']],
    trigger: async () => undefined,
  },
];

/** Whether an answer was let through the scope checks (it may still fail for other reasons). */
function passedAuth(body: Body): boolean {
  return !(body.errors ?? []).some((error) =>
    ['FORBIDDEN', 'UNAUTHENTICATED'].includes(String(error.extensions?.code)),
  );
}

/** The first result of a granted live stream, triggering events until it comes (bounded). */
async function firstStreamed(app: ScopedApp, operation: Operation, key: string): Promise<Body> {
  const stream = await openStream(app.yoga, operation.query, key);
  const first = stream.next();
  try {
    let settled: Body | null | undefined;
    void first.then((body) => {
      settled = body;
    });
    await waitFor(
      async () => {
        if (settled === undefined) await operation.trigger?.(app);
        return settled !== undefined;
      },
      { timeoutMs: 5_000, intervalMs: 50, message: `${operation.field} produced nothing` },
    );
    if (!settled) throw new Error(`${operation.field} ended without a result`);
    return settled;
  } finally {
    stream.close();
  }
}

describe('scopes on every root field', () => {
  it('should list every root field of the schema here, and give each one scopes of its own', () => {
    const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()];
    const fields = roots.flatMap((type) =>
      isObjectType(type) ? Object.keys(type.getFields()).map((name) => `${type.name}.${name}`) : [],
    );
    expect(new Set(OPERATIONS.map((operation) => operation.field))).toEqual(new Set(fields));
    for (const type of roots) {
      for (const field of isObjectType(type) ? Object.values(type.getFields()) : []) {
        const options = field.extensions.pothosOptions as { authScopes?: unknown } | undefined;
        expect(options?.authScopes, `${type?.name}.${field.name} has no authScopes`).toBeDefined();
      }
    }
  });

  it.each(OPERATIONS.map((operation) => [operation.field, operation.query, operation] as const))(
    '%s (%s): UNAUTHENTICATED without a key, FORBIDDEN with the wrong scopes, changing nothing',
    async (field, query, operation) => {
      const app = await startScopedApp(harness);
      const variables = operation.variables?.(app.fixture);
      const denied = await Promise.all(operation.deny.map(async ([scopes]) => app.keyWith(scopes)));
      const granted = await app.keyWith(operation.grant);
      const before = await app.state();

      expect(refusal(await app.ask(query, variables)).code).toBe('UNAUTHENTICATED');
      // A yoga app built without the auth plugin (and without authDisabled) grants nothing either.
      const unguarded = createYogaApp({ engine: app.engine, logging: false });
      const response = await unguarded.fetch('http://switchyard.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ query, variables }),
      });
      const text = await response.text();
      expect(text).toContain('"code":"UNAUTHENTICATED"');
      expect(text).not.toContain('"code":"FORBIDDEN"');

      for (const [index, [scopes, requiredScope]] of operation.deny.entries()) {
        const body = await app.ask(query, variables, denied[index]);
        const { code, message } = refusal(body);
        expect(code, `${field} with ${scopes.join(' ')}`).toBe('FORBIDDEN');
        expect(message).toContain(`${field} needs`);
        expect(body.errors?.[0]?.extensions?.requiredScope).toBe(requiredScope);
      }
      expect(await app.state()).toEqual(before);

      if (operation.grantedCode) {
        expect(refusal(await app.ask(query, variables, granted)).code).toBe(operation.grantedCode);
        return;
      }
      const allowed = operation.trigger
        ? await firstStreamed(app, operation, granted)
        : await app.ask(query, variables, granted);
      expect(passedAuth(allowed), JSON.stringify(allowed)).toBe(true);
      expect(allowed.data, JSON.stringify(allowed)).toBeTruthy();
    },
  );
});
