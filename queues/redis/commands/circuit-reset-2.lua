--[[
  An operator's word on a queue's circuit. `close`: forget the failures and let deliveries go at
  once. `probe`: an OPEN circuit counts as cooled down now, so the next delivery is its probe (a
  replay into a queue whose endpoint was fixed should not wait out the cool-down); a closed or
  half-open circuit is left as it is.
  Either way BullMQ's rate-limit key is removed, so workers holding back for it take jobs again at
  their next look (at most a second: the webhook workers' maximumRateLimitDelay).

  Input:
    KEYS[1] circuit hash
    KEYS[2] the queue's BullMQ rate-limit key

    ARGV[1] 'close' or 'probe'

  Output:
    1 when the circuit was OPEN, else 0
]]
local state = redis.call('HGET', KEYS[1], 'state')
local wasOpen = state == 'open'
if ARGV[1] == 'close' then
  redis.call('DEL', KEYS[1], KEYS[2])
elseif wasOpen then
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  redis.call('HSET', KEYS[1], 'until', now)
  redis.call('DEL', KEYS[2])
end
if wasOpen then return 1 end
return 0
