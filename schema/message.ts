import type { LiveMessage } from '../queues/live-events.js';
import type { MessageRecord } from '../queues/types.js';
import { messages } from '../resolvers/messages.js';
import { notBuilt, withoutUnbuilt } from '../resolvers/not-built.js';
import { builder } from './builder.js';
import { HeaderMatch } from './enums.js';
import { TrailEntry } from './trail.js';

export const Message = builder.objectRef<MessageRecord>('Message').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    topic: t.exposeString('topic'),
    routingKey: t.exposeString('routingKey', { nullable: true }),
    headers: t.expose('headers', { type: 'JSON' }),
    payload: t.expose('payload', { type: 'JSON' }),
    priority: t.exposeInt('priority', { description: '0 (default) .. 9 (most urgent).' }),
    correlationId: t.exposeString('correlationId', { nullable: true }),
    replyTo: t.exposeString('replyTo', { nullable: true }),
    idempotencyKey: t.exposeString('idempotencyKey', { nullable: true }),
    publishedAt: t.expose('publishedAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    sha256: t.exposeString('sha256', { description: 'Hex SHA-256 of the canonical JSON payload.' }),
    sizeBytes: t.exposeInt('sizeBytes'),
    droppedBefore: t.int({
      nullable: true,
      description:
        'Live tail only (Subscription.messages): how many messages this subscriber lost just before this ' +
        'one because it read too slowly (0 when none). Null everywhere else. See docs/PROTOCOL.md.',
      resolve: (message) =>
        'droppedBefore' in message && typeof message.droppedBefore === 'number'
          ? message.droppedBefore
          : null,
    }),
    // Null is true today: nothing can set an ordering key (PublishInput.orderingKey is refused).
    orderingKey: t.string({
      nullable: true,
      description: 'Null: ordering keys are not built yet.',
      resolve: () => null,
    }),
    // Null is true today: no topic keeps a history yet (CreateTopicInput.history is refused).
    cursor: t.string({
      nullable: true,
      description:
        "Its place in the topic's history; null when the topic keeps none, which is every topic today.",
      resolve: () => null,
    }),
    // No honest answer exists before the trail is recorded: an empty list would claim "no history".
    trail: t.field({
      type: [TrailEntry],
      description: 'Provenance, oldest first. Not built yet: answers UNAVAILABLE when selected.',
      resolve: () => notBuilt('Message.trail'),
    }),
  }),
});

builder.subscriptionField('messages', (t) =>
  t.field({
    type: Message,
    description:
      'Live tail of a topic, at-most-once: messages published from now on, on any gateway instance. ' +
      '`bindingKey` and `headers` filter with the routing rules of queues.',
    args: {
      topic: t.arg.string({ required: true }),
      bindingKey: t.arg.string({
        description: 'DIRECT topics: the routing key, exactly; other kinds: an AMQP pattern (* and #).',
      }),
      headers: t.arg({ type: 'JSON', description: 'Header values to match; names are case-insensitive.' }),
      headerMatch: t.arg({
        type: HeaderMatch,
        defaultValue: 'ALL',
        description: 'Whether all of `headers` must match, or any.',
      }),
      after: t.arg.string({
        description: 'Not built yet: a subscription that sets it is refused with UNAVAILABLE.',
      }),
      from: t.arg({
        type: 'DateTime',
        description: 'Not built yet: a subscription that sets it is refused with UNAVAILABLE.',
      }),
    },
    authScopes: (_root, args) => ({ subscribe: args.topic }),
    subscribe: (_root, args, ctx) =>
      messages(withoutUnbuilt('Subscription.messages', args, ['after', 'from']), ctx),
    resolve: (message: LiveMessage) => message,
  }),
);
