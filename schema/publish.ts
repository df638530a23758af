import type { PublishResult as PublishResultRecord } from '../queues/publisher.js';
import { withoutUnbuilt } from '../resolvers/not-built.js';
import { publish } from '../resolvers/publish.js';
import { publishBatch } from '../resolvers/publish-batch.js';
import { builder } from './builder.js';

const PublishResult = builder.objectRef<PublishResultRecord>('PublishResult').implement({
  fields: (t) => ({
    messageId: t.exposeID('messageId'),
    duplicate: t.exposeBoolean('duplicate', {
      description: 'True when the idempotency key was already seen; nothing was enqueued again.',
    }),
    routedTo: t.exposeStringList('routedTo', {
      description: 'Names of the queues the message was enqueued into.',
    }),
  }),
});

export const PublishInput = builder.inputType('PublishInput', {
  fields: (t) => ({
    topic: t.string({ required: true }),
    payload: t.field({ type: 'JSON', required: true }),
    routingKey: t.string(),
    headers: t.field({ type: 'JSON', description: 'Flat object of string values.' }),
    priority: t.int({ description: '0 (default) .. 9 (most urgent).' }),
    delayMs: t.int(),
    ttlMs: t.int(),
    correlationId: t.string(),
    replyTo: t.string(),
    idempotencyKey: t.string(),
    orderingKey: t.string({
      description: 'Not built yet: a publish that sets it is refused with UNAVAILABLE.',
    }),
  }),
});

builder.mutationFields((t) => ({
  publish: t.field({
    type: PublishResult,
    description: 'Answers once the message is durably in Redis, in every queue it matched.',
    args: { input: t.arg({ type: PublishInput, required: true }) },
    authScopes: (_root, args) => ({ publish: args.input.topic }),
    resolve: (_root, args, ctx) =>
      publish({ input: withoutUnbuilt('PublishInput', args.input, ['orderingKey']) }, ctx),
  }),
  publishBatch: t.field({
    type: [PublishResult],
    description: 'All or nothing.',
    args: { inputs: t.arg({ type: [PublishInput], required: true }) },
    // Every topic of the batch: all or nothing, like the batch itself.
    authScopes: (_root, args) => ({ publish: [...new Set(args.inputs.map((input) => input.topic))] }),
    resolve: (_root, args, ctx) =>
      publishBatch(
        { inputs: args.inputs.map((input) => withoutUnbuilt('PublishInput', input, ['orderingKey'])) },
        ctx,
      ),
  }),
}));
