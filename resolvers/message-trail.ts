import type { MessageRecord } from '../queues/core/index.js';
import type { Context } from './context.js';

/** Message.trail: the message's provenance, oldest first, with `at` as a time. */
export const messageTrail = async (message: MessageRecord, ctx: Context) =>
  (await ctx.engine.messageTrail(message.topic, message.id)).map((entry) => ({
    ...entry,
    at: new Date(entry.at),
  }));
