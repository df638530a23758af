/**
 * Per-key rate limits: a token bucket per API key, kept in Redis (commands/rate-limit-1.lua) so that
 * every gateway instance on the same Redis draws from the same bucket.
 */
import type { Commands, Keys } from '../redis/index.js';

export interface RateLimitSettings {
  /** Tokens added back per second, i.e. the sustained request rate. */
  perSecond: number;
  /** The bucket's size: how many requests may come at once after a quiet spell. */
  burst: number;
}

export type RateLimitVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface RateLimiterOptions {
  commands: Commands;
  keys: Keys;
  settings: RateLimitSettings;
}

export function createRateLimiter(options: RateLimiterOptions) {
  const { commands, keys, settings } = options;
  if (!(settings.perSecond > 0) || !(settings.burst >= 1)) {
    throw new Error('A rate limit needs perSecond > 0 and burst >= 1');
  }
  const rate = String(settings.perSecond);
  const burst = String(settings.burst);
  return {
    settings,
    /**
     * Takes `cost` tokens from the bucket of `bucketId` (an API key id). When the bucket is short,
     * nothing is taken and the answer says how long until it will hold enough.
     */
    async take(bucketId: string, cost = 1): Promise<RateLimitVerdict> {
      const wait = await commands.run<number>(
        'rate-limit-1',
        [keys.rateBucket(bucketId)],
        [rate, burst, String(cost)],
      );
      return wait === 0 ? { allowed: true } : { allowed: false, retryAfterMs: wait };
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
