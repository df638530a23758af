import { callerName } from './caller-scopes.js';
import type { Context } from './context.js';

interface ReplayDeadLetterArgs {
  id: string;
  payload?: unknown;
  toQueue?: string | null;
}

/** A null `payload` replays the message as it is (GraphQL cannot tell a JSON null from no edit). */
export const replayDeadLetter = (args: ReplayDeadLetterArgs, ctx: Context) =>
  ctx.engine.deadLetters.replay(args.id, {
    payload: args.payload ?? undefined,
    toQueue: args.toQueue ?? null,
    by: callerName(ctx),
  });
