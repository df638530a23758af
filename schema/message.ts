import type { MessageRecord } from '../queues/core/index.js';
import type { LiveMessage } from '../queues/live/index.js';
import { messages } from '../resolvers/messages.js';
import { builder } from './builder.js';
import { HeaderMatch } from './enums.js';

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
    },
    authScopes: (_root, args) => ({ subscribe: args.topic }),
    subscribe: (_root, args, ctx) => messages(args, ctx),
    resolve: (message: LiveMessage) => message,
  }),
);
