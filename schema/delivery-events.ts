import type { DeliveryEvent as DeliveryEventRecord } from '../queues/core/index.js';
import type { LiveDeliveryEvent } from '../queues/live/index.js';
import { deliveryEvents } from '../resolvers/delivery-events.js';
import { EVERY_TOPIC } from './auth-scopes.js';
import { builder } from './builder.js';
import { DeliveryEventKind, FailureReason } from './enums.js';

const DeliveryEvent = builder.objectRef<DeliveryEventRecord>('DeliveryEvent').implement({
  fields: (t) => ({
    kind: t.expose('kind', { type: DeliveryEventKind }),
    at: t.expose('at', { type: 'DateTime' }),
    topic: t.exposeString('topic'),
    queue: t.exposeString('queue', { nullable: true }),
    messageId: t.exposeID('messageId'),
    attempt: t.exposeInt('attempt', { nullable: true }),
    reason: t.expose('reason', { type: FailureReason, nullable: true }),
    error: t.exposeString('error', { nullable: true }),
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
      'At-most-once, like Subscription.messages.',
    args: { topic: t.arg.string(), queue: t.arg.string() },
    // Without a topic the stream carries every topic's events: that needs subscribe:# (or admin).
    authScopes: (_root, args) => ({ subscribe: args.topic ?? EVERY_TOPIC }),
    subscribe: (_root, args, ctx) => deliveryEvents(args, ctx),
    resolve: (event: LiveDeliveryEvent) => event,
  }),
);
