import type { Context } from './context.js';

/** Liveness as GraphQL sees it: `ok` is false while Redis does not answer, because then nothing works. */
export async function health(_args: unknown, ctx: Context) {
  const redis = await ctx.engine.redisHealthy();
  return {
    ok: redis,
    redis,
    version: ctx.version,
    uptimeSeconds: Math.max(0, (Date.now() - ctx.startedAt) / 1000),
  };
}
