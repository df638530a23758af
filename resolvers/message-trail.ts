import type { MessageRecord } from '../queues/core/index.js';
import type { Context } from './context.js';

/** Message.trail: the message's provenance, oldest first (PUBLISHED derived from this very record), with `at` as a time. */
export const messageTrail = async (message: MessageRecord, ctx: Context) =>
  (await ctx.engine.trailOf(message)).map((entry) => ({
    ...entry,
    at: new Date(entry.at),
  }));
