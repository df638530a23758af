import type { Context } from './context.js';
import { redisUnavailable, withRedisNotices } from './redis-notices.js';

/** Refused with UNAVAILABLE while Redis does not answer; once started, told of each outage. */
export const deliveryEvents = async (
  args: { topic?: string | null; queue?: string | null },
  ctx: Context,
) => {
  if (!ctx.engine.redis.available) throw redisUnavailable();
  return withRedisNotices(ctx.engine, await ctx.engine.deliveryEvents(args));
};
