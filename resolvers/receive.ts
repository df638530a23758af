import type { Context } from './context.js';

interface ReceiveArgs {
  topic: string;
  queue: string;
  max?: number | null;
  waitMs?: number | null;
}

/** An explicit null for `max` or `waitMs` means the default, as leaving it out does. */
export const receive = (args: ReceiveArgs, ctx: Context) =>
  ctx.engine.receive(args.topic, args.queue, args.max ?? undefined, args.waitMs ?? undefined);
