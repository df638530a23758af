import type { DeadLetterFilter } from '../queues/dead-letters/index.js';
import type { Context } from './context.js';

export const discardDeadLetters = (args: { filter: DeadLetterFilter }, ctx: Context) =>
  ctx.engine.deadLetters.discardMany(args.filter);
