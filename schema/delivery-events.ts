import type { DeliveryEvent as DeliveryEventRecord, SwitchyardError } from '../queues/core/index.js';
import type { LiveDeliveryEvent } from '../queues/live/index.js';
import { deliveryEvents } from '../resolvers/delivery-events.js';
import { throwNotice } from '../resolvers/redis-notices.js';
import { EVERY_TOPIC } from './auth-scopes.js';
import { builder } from './builder.js';
import { DeliveryEventKind, FailureReason } from './enums.js';

const DeliveryEvent = builder.objectRef<DeliveryEventRecord>('DeliveryEvent').implement({
  description: 'Something that happened to a message, on any gateway instance.',
  fields: (t) => ({
    kind: t.expose('kind', { type: DeliveryEventKind, description: 'What happened.' }),
    at: t.expose('at', { type: 'DateTime', description: 'When it happened.' }),
    topic: t.exposeString('topic', { description: 'The topic of the message.' }),
    queue: t.exposeString('queue', {
      nullable: true,
      description:
        'The queue it happened in; null for PUBLISHED, which concerns every queue the message matched.',
    }),
    messageId: t.exposeID('messageId', { description: 'Message.id of the message.' }),
    attempt: t.exposeInt('attempt', {
      nullable: true,
      description:
        'The delivery attempt, 1 for the first; null for events that are no attempt (PUBLISHED, REPLAYED, DISCARDED).',
    }),
    reason: t.expose('reason', {
      type: FailureReason,
      nullable: true,
      description: 'Why the attempt failed; null when nothing failed.',
    }),
    error: t.exposeString('error', {
      nullable: true,
      description: 'What went wrong, header values redacted; null when nothing failed.',
    }),
    droppedBefore: t.int({
      nullable: true,
      description:
        'Subscription.deliveryEvents only: how many events this subscriber lost just before this one ' +
        'because it read too slowly (0 when none).',
      resolve: (event) =>
        'droppedBefore' in event && typeof event.droppedBefore === 'number' ? event.droppedBefore : null,
    }),
  }),
});

builder.subscriptionField('deliveryEvents', (t) =>
  t.field({
    type: DeliveryEvent,
    description:
      'Delivery events as they happen on any gateway instance, of one topic (and queue) or of all. ' +
      'At-most-once, like Subscription.messages. Needs subscribe:<pattern> matching the topic, or subscribe:# ' +
      'without one (or admin).',
    args: {
      topic: t.arg.string({
        description: 'Only events of this topic; without it, every topic (needs subscribe:#).',
      }),
      queue: t.arg.string({
        description: 'Only events of this queue (PUBLISHED events, which name no queue, are left out).',
      }),
    },
    // Without a topic the stream carries every topic's events: that needs subscribe:# (or admin).
    authScopes: (_root, args) => ({ subscribe: args.topic ?? EVERY_TOPIC }),
    subscribe: (_root, args, ctx) => deliveryEvents(args, ctx),
    // A Redis outage notice (resolvers/redis-notices.ts) becomes this event's UNAVAILABLE error.
    resolve: (item: LiveDeliveryEvent | SwitchyardError) => throwNotice(item),
  }),
);
