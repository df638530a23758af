import type { PublishResult as PublishResultRecord } from '../queues/publish/index.js';
import { publish } from '../resolvers/publish.js';
import { publishBatch } from '../resolvers/publish-batch.js';
import { builder } from './builder.js';

const PublishResult = builder.objectRef<PublishResultRecord>('PublishResult').implement({
  description: 'What a publish stored.',
  fields: (t) => ({
    messageId: t.exposeID('messageId', {
      description:
        'The id of the stored message; on a duplicate, the id of the message first published with the key.',
    }),
    duplicate: t.exposeBoolean('duplicate', {
      description: 'True when the idempotency key was already seen; nothing was enqueued again.',
    }),
    routedTo: t.exposeStringList('routedTo', {
      description:
        'Names of the queues the message was enqueued into; [] when no queue matched (counted as unrouted).',
    }),
  }),
});

export const PublishInput = builder.inputType('PublishInput', {
  description: 'One message to publish. Every limit is checked before anything is stored.',
  fields: (t) => ({
    topic: t.string({
      required: true,
      description: 'The topic to publish to; NOT_FOUND when it does not exist.',
    }),
    payload: t.field({
      type: 'JSON',
      required: true,
      description:
        "Any JSON value, stored in canonical form. At most the topic's maxMessageBytes (else PAYLOAD_TOO_LARGE) " +
        'and valid against its payloadSchema (else VALIDATION).',
    }),
    routingKey: t.string({ description: 'What DIRECT and TOPIC topics route on; at most 255 characters.' }),
    headers: t.field({
      type: 'JSON',
      description:
        'Flat object of string values, what HEADERS topics route on: at most 64, names 1 to 256 characters, values at most 4096.',
    }),
    priority: t.int({ description: '0 (default) .. 9 (most urgent).' }),
    delayMs: t.int({
      description:
        'Deliver no earlier than this many ms from now: 0 (default) to 31536000000 (365 days); shorter than ttlMs.',
    }),
    ttlMs: t.int({
      description:
        'Time to live in ms, 1 to 31536000000 (365 days): a message not delivered by then becomes a dead letter ' +
        '(EXPIRED). Default: no TTL.',
    }),
    correlationId: t.string({ description: 'Passed through to receivers untouched; 1 to 256 characters.' }),
    replyTo: t.string({ description: 'Passed through to receivers untouched; 1 to 256 characters.' }),
    idempotencyKey: t.string({
      description:
        'A repeat publish with the same key on the same topic within the dedup window (SWITCHYARD_DEDUP_WINDOW_MS, ' +
        'default 24 h) answers duplicate: true with the first message id and stores nothing. 1 to 256 characters; ' +
        'required when the message routes to an EXACTLY_ONCE queue.',
    }),
    orderingKey: t.string({
      description:
        'In each queue, messages with the same key are delivered one at a time, in publish order: the next waits ' +
        'until the one before is delivered or dead-lettered (docs/PATTERNS.md). 1 to 255 characters.',
    }),
  }),
});

builder.mutationFields((t) => ({
  publish: t.field({
    type: PublishResult,
    description:
      'Answers once the message is durably in Redis, in every queue it matched. Needs publish:<pattern> ' +
      'matching the topic (or admin).',
    args: { input: t.arg({ type: PublishInput, required: true, description: 'The message.' }) },
    authScopes: (_root, args) => ({ publish: args.input.topic }),
    resolve: (_root, args, ctx) => publish({ input: args.input }, ctx),
  }),
  publishBatch: t.field({
    type: [PublishResult],
    description:
      'Publishes several messages, all or nothing: one refused input (named by its index) refuses the batch. ' +
      'Answers in input order. Needs publish:<pattern> matching every topic of the batch (or admin).',
    args: {
      inputs: t.arg({
        type: [PublishInput],
        required: true,
        description: "The messages, at most the gateway's SWITCHYARD_MAX_BATCH (default 1000).",
      }),
    },
    // Every topic of the batch: all or nothing, like the batch itself.
    authScopes: (_root, args) => ({ publish: [...new Set(args.inputs.map((input) => input.topic))] }),
    resolve: (_root, args, ctx) => publishBatch({ inputs: args.inputs }, ctx),
  }),
}));
