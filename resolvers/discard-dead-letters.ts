import type { DeadLetterFilter } from '../queues/dead-letters/index.js';
import type { Context } from '../schema/builder.js';

export const discardDeadLetters = (args: { filter: DeadLetterFilter }, ctx: Context) =>
  ctx.engine.deadLetters.discardMany(args.filter);
