import type { Context } from './context.js';

export const rotateSigningSecret = (args: { topic: string; name: string }, ctx: Context) =>
  ctx.engine.rotateSigningSecret(args.topic, args.name);
