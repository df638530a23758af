import type { MessageRecord } from '../queues/types.js';
import { notImplemented } from '../resolvers/not-implemented.js';
import { builder } from './builder.js';

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
  }),
});

builder.subscriptionField('messages', (t) =>
  t.field({
    type: Message,
    description: 'Live tail of a topic, at-most-once.',
    args: {
      topic: t.arg.string({ required: true }),
      bindingKey: t.arg.string(),
      headers: t.arg({ type: 'JSON' }),
    },
    subscribe: notImplemented('Subscription.messages'),
    resolve: (message: MessageRecord) => message,
  }),
);
