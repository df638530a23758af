--[[
  Removes a topic, atomically refusing while any queue is bound to it.

  Input:
    KEYS[1] topics hash
    KEYS[2] the topic's queues hash

    ARGV[1] topic name

  Output:
     1 deleted
    -1 no such topic
    -2 the topic still has queues
]]
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return -1
end
if redis.call('HLEN', KEYS[2]) > 0 then
  return -2
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
