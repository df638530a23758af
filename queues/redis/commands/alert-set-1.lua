--[[
  Records an alert's state and says whether this call changed it, so that when several gateway
  instances evaluate the same queues, exactly one of them announces each firing and each resolution.

  Input:
    KEYS[1] alerts hash

    ARGV[1] alert id
    ARGV[2] the alert as JSON while it fires; empty to resolve it
    ARGV[3] its current value and ARGV[4] its message (kept fresh while it keeps firing)

  Output:
    1 this call fired or resolved it, 0 it was already so (a firing alert gets the new value)
]]
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '' then
  if not current then return 0 end
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
if current then
  local alert = cjson.decode(current)
  alert.value = tonumber(ARGV[3])
  alert.message = ARGV[4]
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(alert))
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
