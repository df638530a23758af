--[[
  Replaces a queue's record only if the queue still exists, so an update racing a delete
  cannot bring the queue back.

  Input:
    KEYS[1] the topic's queues hash

    ARGV[1] queue name
    ARGV[2] queue record (JSON)

  Output:
     1 replaced
    -1 no such queue
]]
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return -1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
