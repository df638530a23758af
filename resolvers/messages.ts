import type { HeaderMatch } from '../queues/core/index.js';
import type { Context } from './context.js';

interface MessagesArgs {
  topic: string;
  bindingKey?: string | null;
  headers?: unknown;
  headerMatch?: HeaderMatch | null;
  after?: string | null;
  from?: Date | null;
}

export const messages = (args: MessagesArgs, ctx: Context) =>
  ctx.engine.messages(
    args.topic,
    { bindingKey: args.bindingKey, headers: args.headers, headerMatch: args.headerMatch },
    { after: args.after, from: args.from },
  );
