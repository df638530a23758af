import type { Context } from './context.js';
import { redisUnavailable, withRedisNotices } from './redis-notices.js';

/**
 * An explicit null for `prefetch` means the default, as leaving it out does. Refused with UNAVAILABLE
 * while Redis does not answer; once started, told of each outage (docs/PROTOCOL.md).
 */
export const consume = async (
  args: { topic: string; queue: string; prefetch?: number | null },
  ctx: Context,
) => {
  if (!ctx.engine.redis.available) throw redisUnavailable();
  return withRedisNotices(
    ctx.engine,
    await ctx.engine.consume(args.topic, args.queue, args.prefetch ?? undefined),
  );
};
