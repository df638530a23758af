import type { DeadLetterFilter } from '../queues/dead-letters/index.js';
import { callerName } from './caller-scopes.js';
import type { Context } from './context.js';

export const replayDeadLetters = (args: { filter: DeadLetterFilter; limit?: number | null }, ctx: Context) =>
  ctx.engine.deadLetters.replayMany(args.filter, args.limit ?? 1000, callerName(ctx));
