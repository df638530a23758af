import { notBuilt } from '../resolvers/not-built.js';
import { builder } from './builder.js';
import { deliveryScopes } from './delivery.js';
import { PublishInput } from './publish.js';

/** What a `request` answers; nothing builds one until request-reply is built. */
interface ReplyShape {
  messageId: string;
  queue: string;
  payload: unknown;
  headers: unknown;
  repliedAt: Date;
}

const Reply = builder.objectRef<ReplyShape>('Reply').implement({
  description: 'The first answer to a Mutation.request. Not built yet: request answers UNAVAILABLE.',
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

// Not built yet: both answer UNAVAILABLE after their scope check, and change nothing.
builder.mutationFields((t) => ({
  request: t.field({
    type: Reply,
    description:
      'Publishes and waits for the first reply; later replies are dropped. Needs publish:<pattern> matching ' +
      'the topic (or admin). Not built yet: answers UNAVAILABLE.',
    args: {
      input: t.arg({
        type: PublishInput,
        required: true,
        description: 'The request, published as by publish.',
      }),
      timeoutMs: t.arg.int({
        defaultValue: 5000,
        description: 'How long to wait for a reply, in ms, at most 60000; TIMEOUT when none comes in time.',
      }),
    },
    // A request is a publish, with the publish's scope.
    authScopes: (_root, args) => ({ publish: args.input.topic }),
    resolve: () => notBuilt('Mutation.request'),
  }),
  reply: t.boolean({
    description:
      'Answers a delivered request and acks its delivery. Needs consume:<pattern> matching the topic the ' +
      'delivery id names (or admin), as ack does. Not built yet: answers UNAVAILABLE.',
    args: {
      deliveryId: t.arg.id({ required: true, description: 'The delivery of the request (Delivery.id).' }),
      payload: t.arg({ type: 'JSON', required: true, description: 'The reply, any JSON value.' }),
      headers: t.arg({ type: 'JSON', description: 'Reply headers, a flat object of string values.' }),
    },
    // Like ack: the consume scope of the topic the delivery id names.
    authScopes: (_root, args) => deliveryScopes(String(args.deliveryId)),
    resolve: () => notBuilt('Mutation.reply'),
  }),
}));
