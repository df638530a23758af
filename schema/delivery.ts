import { type Delivery as DeliveryRecord, decodeDeliveryId } from '../queues/consumer.js';
import { ack } from '../resolvers/ack.js';
import { consume } from '../resolvers/consume.js';
import { nack } from '../resolvers/nack.js';
import { receive } from '../resolvers/receive.js';
import { builder } from './builder.js';
import { FailureReason } from './enums.js';
import { Message } from './message.js';

const Delivery = builder.objectRef<DeliveryRecord>('Delivery').implement({
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The ack token: unique per message, queue and attempt.' }),
    message: t.expose('message', { type: Message }),
    queue: t.exposeString('queue'),
    attempt: t.exposeInt('attempt', { description: '1 on the first delivery.' }),
    deliverBy: t.expose('deliverBy', {
      type: 'DateTime',
      description: 'Ack before this, or the message is delivered again.',
    }),
  }),
});

/**
 * ack/nack act on the topic the delivery id names (the engine finds the queue from it). An id that is
 * no delivery id names no topic and can change nothing: it is let through to answer BAD_USER_INPUT.
 */
export function deliveryScopes(deliveryId: string) {
  const parsed = decodeDeliveryId(deliveryId);
  return parsed ? { consume: parsed.topic } : true;
}

builder.mutationFields((t) => ({
  receive: t.field({
    type: [Delivery],
    description: 'Takes up to `max` messages of a CONSUMER queue, waiting up to `waitMs` for the first.',
    args: {
      topic: t.arg.string({ required: true }),
      queue: t.arg.string({ required: true }),
      max: t.arg.int({ defaultValue: 1 }),
      waitMs: t.arg.int({ defaultValue: 0 }),
    },
    authScopes: (_root, args) => ({ consume: args.topic }),
    resolve: (_root, args, ctx) => receive(args, ctx),
  }),
  ack: t.boolean({
    args: { deliveryId: t.arg.id({ required: true }) },
    authScopes: (_root, args) => deliveryScopes(String(args.deliveryId)),
    resolve: (_root, args, ctx) => ack({ deliveryId: String(args.deliveryId) }, ctx),
  }),
  nack: t.boolean({
    description: 'Fails the delivery: retried by the queue policy, or dead-lettered (REJECTED, VALIDATION).',
    args: {
      deliveryId: t.arg.id({ required: true }),
      reason: t.arg({ type: FailureReason }),
      error: t.arg.string(),
      retryAfterMs: t.arg.int(),
    },
    authScopes: (_root, args) => deliveryScopes(String(args.deliveryId)),
    resolve: (_root, args, ctx) => nack({ ...args, deliveryId: String(args.deliveryId) }, ctx),
  }),
}));

builder.subscriptionField('consume', (t) =>
  t.field({
    type: Delivery,
    description:
      'Durable consumer of a CONSUMER queue: deliveries are pushed, at most `prefetch` unacked at a time; ' +
      'ack or nack each with Mutation.ack/nack (on any connection). Subscribers of one queue share its ' +
      'messages. See docs/PROTOCOL.md.',
    args: {
      topic: t.arg.string({ required: true }),
      queue: t.arg.string({ required: true }),
      prefetch: t.arg.int({ defaultValue: 10 }),
    },
    authScopes: (_root, args) => ({ consume: args.topic }),
    subscribe: (_root, args, ctx) => consume(args, ctx),
    resolve: (delivery: DeliveryRecord) => delivery,
  }),
);
