import type { DeadLetterFilter } from '../queues/dead-letters/index.js';
import type { Context } from './context.js';

interface DeadLettersArgs {
  filter?: DeadLetterFilter | null;
  first?: number | null;
  after?: string | null;
}

/** An explicit null for `first` means the default, as leaving it out does. */
export const deadLetters = (args: DeadLettersArgs, ctx: Context) =>
  ctx.engine.deadLetters.page(args.filter ?? {}, { first: args.first ?? 50, after: args.after ?? null });
