import type { DeadLetterFilter } from '../queues/dead-letters.js';
import type { Context } from '../schema/builder.js';

export const discardDeadLetters = (args: { filter: DeadLetterFilter }, ctx: Context) =>
  ctx.engine.deadLetters.discardMany(args.filter);
