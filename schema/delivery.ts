import type { SwitchyardError } from '../queues/core/index.js';
import { type Delivery as DeliveryRecord, decodeDeliveryId } from '../queues/delivery/index.js';
import { ack } from '../resolvers/ack.js';
import { consume } from '../resolvers/consume.js';
import { nack } from '../resolvers/nack.js';
import { receive } from '../resolvers/receive.js';
import { throwNotice } from '../resolvers/redis-notices.js';
import { builder } from './builder.js';
import { FailureReason } from './enums.js';
import { Message } from './message.js';

const Delivery = builder.objectRef<DeliveryRecord>('Delivery').implement({
  description:
    'One attempt to deliver a message of a CONSUMER queue to a client: settle it with ack or nack before deliverBy.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The ack token: unique per message, queue and attempt.' }),
    message: t.expose('message', { type: Message, description: 'The message delivered.' }),
    queue: t.exposeString('queue', { description: 'The queue it was delivered from.' }),
    attempt: t.exposeInt('attempt', { description: '1 on the first delivery.' }),
    deliverBy: t.expose('deliverBy', {
      type: 'DateTime',
      description: "Ack before this (now + the queue's ackTimeoutMs), or the message is delivered again.",
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
    description:
      'Takes up to `max` messages of a CONSUMER queue, waiting up to `waitMs` for the first; [] when none ' +
      'came. Needs consume:<pattern> matching the topic (or admin).',
    args: {
      topic: t.arg.string({ required: true, description: 'The topic name.' }),
      queue: t.arg.string({ required: true, description: 'The CONSUMER queue of that topic.' }),
      max: t.arg.int({ defaultValue: 1, description: 'Most deliveries to answer, 1 to 1000.' }),
      waitMs: t.arg.int({
        defaultValue: 0,
        description:
          'How long to wait for a first message when none waits, in ms, 0 to 20000 (0: answer at once).',
      }),
    },
    authScopes: (_root, args) => ({ consume: args.topic }),
    resolve: (_root, args, ctx) => receive(args, ctx),
  }),
  ack: t.boolean({
    description:
      'Settles a delivery as done: the message leaves the queue. True; NOT_FOUND when the delivery id is no ' +
      'longer current (already settled, or its deliverBy passed and it was delivered again). Needs ' +
      'consume:<pattern> matching the topic the delivery id names (or admin).',
    args: { deliveryId: t.arg.id({ required: true, description: 'Delivery.id, the ack token.' }) },
    authScopes: (_root, args) => deliveryScopes(String(args.deliveryId)),
    resolve: (_root, args, ctx, info) => ack({ deliveryId: String(args.deliveryId) }, ctx, info),
  }),
  nack: t.boolean({
    description:
      'Fails the delivery: retried by the queue policy, or dead-lettered (REJECTED, VALIDATION, or the last ' +
      'attempt). True; NOT_FOUND when the delivery id is no longer current. Needs the same scope as ack.',
    args: {
      deliveryId: t.arg.id({ required: true, description: 'Delivery.id, the ack token.' }),
      reason: t.arg({
        type: FailureReason,
        description: 'Why it failed; default PROCESSING. REJECTED and VALIDATION dead-letter it at once.',
      }),
      error: t.arg.string({
        description:
          'What went wrong, kept in the attempt history (header values redacted); at most 4096 characters.',
      }),
      retryAfterMs: t.arg.int({
        description:
          'Retry after exactly this many ms (0 to 86400000) instead of the backoff; default: the backoff.',
      }),
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
      'messages. Needs consume:<pattern> matching the topic (or admin). See docs/PROTOCOL.md.',
    args: {
      topic: t.arg.string({ required: true, description: 'The topic name.' }),
      queue: t.arg.string({ required: true, description: 'The CONSUMER queue of that topic.' }),
      prefetch: t.arg.int({ defaultValue: 10, description: 'Most unacked deliveries at a time, 1 to 1000.' }),
    },
    authScopes: (_root, args) => ({ consume: args.topic }),
    subscribe: (_root, args, ctx) => consume(args, ctx),
    // A Redis outage notice (resolvers/redis-notices.ts) becomes this event's UNAVAILABLE error.
    resolve: (item: DeliveryRecord | SwitchyardError) => throwNotice(item),
  }),
);
