import type { PublishInput } from '../queues/publish/index.js';
import { callerName } from './caller-scopes.js';
import type { Context } from './context.js';

export const request = (args: { input: PublishInput; timeoutMs?: number | null }, ctx: Context) =>
  ctx.engine.request({ ...args.input, by: callerName(ctx) }, args.timeoutMs ?? undefined);
