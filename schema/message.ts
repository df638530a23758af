import type { MessageRecord } from '../queues/core/index.js';
import type { LiveMessage } from '../queues/live/index.js';
import { messageTrail } from '../resolvers/message-trail.js';
import { messages } from '../resolvers/messages.js';
import { builder } from './builder.js';
import { HeaderMatch } from './enums.js';
import { TrailEntry } from './trail.js';

export const Message = builder.objectRef<MessageRecord>('Message').implement({
  description:
    'A published message as every queue, delivery and live stream carries it. Readable by whoever was ' +
    'answered it (a consumer, a live-tail subscriber, a dead-letter reader).',
  fields: (t) => ({
    id: t.exposeID('id', {
      description:
        'Unique (a UUID), given at publish; the same in every queue and every attempt, so receivers can dedupe on it.',
    }),
    topic: t.exposeString('topic', { description: 'The topic it was published to.' }),
    routingKey: t.exposeString('routingKey', {
      nullable: true,
      description:
        'The routing key it was published with (DIRECT and TOPIC routing); null when none was given.',
    }),
    headers: t.expose('headers', {
      type: 'JSON',
      description: 'Its headers, a flat object of string values ({} when none were given).',
    }),
    payload: t.expose('payload', {
      type: 'JSON',
      description:
        'The payload, in canonical form (object keys sorted at every depth): the JSON sha256 was computed over.',
    }),
    priority: t.exposeInt('priority', { description: '0 (default) .. 9 (most urgent).' }),
    correlationId: t.exposeString('correlationId', {
      nullable: true,
      description: 'As given at publish, passed through untouched; null when none was.',
    }),
    replyTo: t.exposeString('replyTo', {
      nullable: true,
      description: 'As given at publish, passed through untouched; null when none was.',
    }),
    idempotencyKey: t.exposeString('idempotencyKey', {
      nullable: true,
      description: 'The key the publish was deduplicated on; null when none was given.',
    }),
    publishedAt: t.expose('publishedAt', { type: 'DateTime', description: 'When the publish stored it.' }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description:
        'publishedAt + ttlMs: past it the message is never delivered (EXPIRED). Null when it has no TTL.',
    }),
    sha256: t.exposeString('sha256', { description: 'Hex SHA-256 of the canonical JSON payload.' }),
    sizeBytes: t.exposeInt('sizeBytes', { description: 'Size of the canonical JSON payload, in bytes.' }),
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
    orderingKey: t.string({
      nullable: true,
      description: 'The ordering key it was published with (PublishInput.orderingKey); null when none.',
      resolve: (message) => message.orderingKey ?? null,
    }),
    cursor: t.string({
      nullable: true,
      description:
        "Its place in the topic's history (a stream id; pass it as `after`), on messages read from the " +
        'history (topicHistory, message) or the live tail of a topic that keeps one; null elsewhere.',
      resolve: (message) => message.cursor ?? null,
    }),
    // Readable by whoever may read the message: the trail says where it went and who sent it there.
    trail: t.field({
      type: [TrailEntry],
      description:
        'Provenance, oldest first: every publish, replay, edited replay and replay into another queue, ' +
        'each hash-chained to the one before (docs/PROVENANCE.md spells out the bytes, so anyone can check it). ' +
        'Empty once the trail has expired (its retention runs from its last step).',
      resolve: (message, _args, ctx) => messageTrail(message, ctx),
    }),
  }),
});

builder.subscriptionField('messages', (t) =>
  t.field({
    type: Message,
    description:
      'Live tail of a topic, at-most-once: messages published from now on, on any gateway instance; with ' +
      "`after` or `from`, the topic's history first. " +
      '`bindingKey` and `headers` filter with the routing rules of queues. Needs subscribe:<pattern> ' +
      'matching the topic (or admin). See docs/PROTOCOL.md.',
    args: {
      topic: t.arg.string({
        required: true,
        description: 'The topic to tail; NOT_FOUND when it does not exist.',
      }),
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
        description:
          "Start with the topic's history after this cursor (Message.cursor), then go live, with no gap and " +
          'no duplicate at the seam. Only on a topic that keeps a history (BAD_USER_INPUT otherwise).',
      }),
      from: t.arg({
        type: 'DateTime',
        description: "Start with the topic's history from this time, then go live, like `after` (not both).",
      }),
    },
    authScopes: (_root, args) => ({ subscribe: args.topic }),
    subscribe: (_root, args, ctx) => messages(args, ctx),
    resolve: (message: LiveMessage) => message,
  }),
);
