--[[
  Asks whether a delivery may go out now. Closed: yes. Open until a time still to come: no, and
  BullMQ's rate-limit key is set until then again. Open and cooled down, or half-open with no probe
  under way: the circuit is (or stays) half-open and this delivery is its one probe. Half-open with
  a probe under way: no; wait a moment and ask again.

  Input:
    KEYS[1] circuit hash
    KEYS[2] the queue's BullMQ rate-limit key

    ARGV[1] how long a probe may take before another delivery may probe instead, ms
    ARGV[2] longest wait to answer while a probe is under way, ms

  Output:
    { verdict, until, failures }: verdict is deliver, probe or wait; until is when to ask again (wait)
]]
local probeMs = tonumber(ARGV[1])
local pollMs = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local current = redis.call('HMGET', KEYS[1], 'state', 'until', 'probeUntil', 'failures')
local state = current[1]
local failures = tonumber(current[4]) or 0
if not state then return { 'deliver', 0, failures } end

local till = tonumber(current[2]) or now
if state == 'open' and till > now then
  redis.call('SET', KEYS[2], '9007199254740991', 'PX', till - now)
  return { 'wait', till, failures }
end

local probeUntil = tonumber(current[3]) or 0
if state == 'half-open' and probeUntil > now then
  local wait = math.min(pollMs, probeUntil - now)
  redis.call('SET', KEYS[2], '9007199254740991', 'PX', wait)
  return { 'wait', now + wait, failures }
end

redis.call('HSET', KEYS[1], 'state', 'half-open', 'probeUntil', now + probeMs)
return { 'probe', now + probeMs, failures }
