--[[
  Registers a queue under its topic, atomically: the topic must exist and the name must be free.

  Input:
    KEYS[1] topics hash
    KEYS[2] the topic's queues hash

    ARGV[1] topic name
    ARGV[2] queue name
    ARGV[3] queue record (JSON)

  Output:
     1 created
    -1 no such topic
    -2 a queue of that name exists
]]
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return -1
end
if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3]) == 0 then
  return -2
end
return 1
