import type { Reply as ReplyShape } from '../queues/delivery/index.js';
import { reply } from '../resolvers/reply.js';
import { request } from '../resolvers/request.js';
import { builder } from './builder.js';
import { deliveryScopes } from './delivery.js';
import { PublishInput } from './publish.js';

const Reply = builder.objectRef<ReplyShape>('Reply').implement({
  description: 'The first answer to a Mutation.request (docs/PATTERNS.md).',
  fields: (t) => ({
    messageId: t.exposeID('messageId', { description: "The request's message id." }),
    queue: t.exposeString('queue', { description: 'The queue whose consumer or webhook endpoint answered.' }),
    payload: t.expose('payload', { type: 'JSON', description: "The reply's payload." }),
    headers: t.expose('headers', {
      type: 'JSON',
      description: "The reply's headers, a flat object of string values.",
    }),
    repliedAt: t.expose('repliedAt', { type: 'DateTime', description: 'When the reply arrived.' }),
  }),
});

builder.mutationFields((t) => ({
  request: t.field({
    type: Reply,
    description:
      "Publishes like publish, with a replyTo of the gateway's own, and waits for the first reply; later " +
      'replies are dropped and counted. TIMEOUT when none comes in time; NOT_FOUND at once when no queue ' +
      'of the topic matches; UNAVAILABLE when the gateway stops while it waits. Needs publish:<pattern> ' +
      'matching the topic (or admin).',
    args: {
      input: t.arg({
        type: PublishInput,
        required: true,
        description: 'The request, published as by publish; replyTo must be left out (the gateway sets it).',
      }),
      timeoutMs: t.arg.int({
        defaultValue: 5000,
        description: 'How long to wait for a reply, in ms: 1 to 60000; TIMEOUT when none comes in time.',
      }),
    },
    // A request is a publish, with the publish's scope.
    authScopes: (_root, args) => ({ publish: args.input.topic }),
    resolve: (_root, args, ctx) => request({ input: args.input, timeoutMs: args.timeoutMs }, ctx),
  }),
  reply: t.boolean({
    description:
      'Answers a delivered request and acks its delivery. NOT_FOUND for a spent delivery, BAD_USER_INPUT ' +
      "for a message that expects no reply (not sent by request), PAYLOAD_TOO_LARGE beyond the topic's " +
      'limit. True once acked, even when another reply came first (this one is then dropped and counted). ' +
      'Needs consume:<pattern> matching the topic the delivery id names (or admin), as ack does.',
    args: {
      deliveryId: t.arg.id({ required: true, description: 'The delivery of the request (Delivery.id).' }),
      payload: t.arg({ type: 'JSON', required: true, description: 'The reply, any JSON value.' }),
      headers: t.arg({ type: 'JSON', description: 'Reply headers, a flat object of string values.' }),
    },
    // Like ack: the consume scope of the topic the delivery id names.
    authScopes: (_root, args) => deliveryScopes(String(args.deliveryId)),
    resolve: (_root, args, ctx) =>
      reply({ deliveryId: String(args.deliveryId), payload: args.payload, headers: args.headers }, ctx),
  }),
}));
