--[[
  Counts a delivery failure that says the endpoint is unhealthy, and opens the queue's circuit when
  there have been too many in a row, or when the failure was the half-open probe's. Opening sets
  BullMQ's rate-limit key of the queue, so every worker on every instance stops fetching its jobs
  until the cool-down ends; nothing is taken from the queue.

  Input:
    KEYS[1] circuit hash: failures, state (open | half-open), until (ms), cooldown (ms), probeUntil (ms)
    KEYS[2] the queue's BullMQ rate-limit key

    ARGV[1] failures in a row that open the circuit (>= 1)
    ARGV[2] first cool-down, ms
    ARGV[3] longest cool-down, ms (each failed probe doubles it up to this)

  Output:
    { state, until, failures, opened }: opened is 1 when this failure opened the circuit
]]
local threshold = tonumber(ARGV[1])
local base = tonumber(ARGV[2])
local longest = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local current = redis.call('HMGET', KEYS[1], 'state', 'until', 'cooldown')
local state = current[1]
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)

local function open(cooldown)
  local till = now + cooldown
  redis.call('HSET', KEYS[1], 'state', 'open', 'until', till, 'cooldown', cooldown)
  redis.call('HDEL', KEYS[1], 'probeUntil')
  -- BullMQ reads the key as "jobs taken in this window"; the largest count means no job may be taken.
  redis.call('SET', KEYS[2], '9007199254740991', 'PX', cooldown)
  return { 'open', till, failures, 1 }
end

if state == 'half-open' then
  return open(math.min(longest, (tonumber(current[3]) or base) * 2))
end
if state == 'open' then
  -- A delivery that was already under way when the circuit opened.
  return { 'open', tonumber(current[2]) or now, failures, 0 }
end
if failures >= threshold then
  return open(base)
end
return { 'closed', 0, failures, 0 }
