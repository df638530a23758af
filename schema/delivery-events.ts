import type { DeliveryEvent as DeliveryEventRecord } from '../queues/events.js';
import { notImplemented } from '../resolvers/not-implemented.js';
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
  }),
});

builder.subscriptionField('deliveryEvents', (t) =>
  t.field({
    type: DeliveryEvent,
    args: { topic: t.arg.string(), queue: t.arg.string() },
    subscribe: notImplemented('Subscription.deliveryEvents'),
    resolve: (event: DeliveryEventRecord) => event,
  }),
);
