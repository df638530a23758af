--[[
  Takes tokens from a token bucket that refills continuously up to its burst size. The clock is
  Redis's own (TIME), so gateway instances with skewed clocks still share one bucket fairly.

  Input:
    KEYS[1] bucket hash: tokens (float), ts (ms of the last refill)

    ARGV[1] refill rate, tokens per second (> 0)
    ARGV[2] burst: the bucket's capacity (>= 1)
    ARGV[3] tokens this request costs (>= 1)

  Output:
    0 when the tokens were taken; otherwise the ms until the bucket holds enough (>= 1), nothing taken
]]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(bucket[1])
local ts = tonumber(bucket[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)

-- A bucket untouched until it is full again is the same as no bucket: let Redis forget it.
local ttl = math.ceil(burst * 1000 / rate) + 1000
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = math.max(1, math.ceil((cost - tokens) * 1000 / rate))
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], ttl)
return wait
