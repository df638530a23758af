--[[
  A delivery succeeded: the endpoint is healthy, so the circuit closes and the count starts over.
  When the circuit was not closed (this was the half-open probe), BullMQ's rate-limit key of the
  queue is removed too, so every worker fetches again at once.

  Input:
    KEYS[1] circuit hash
    KEYS[2] the queue's BullMQ rate-limit key

  Output:
    1 when the circuit was open or half-open, else 0
]]
local state = redis.call('HGET', KEYS[1], 'state')
redis.call('DEL', KEYS[1])
if state then
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
