import type { Context } from '../schema/builder.js';

export const rotateSigningSecret = (args: { topic: string; name: string }, ctx: Context) =>
  ctx.engine.rotateSigningSecret(args.topic, args.name);
