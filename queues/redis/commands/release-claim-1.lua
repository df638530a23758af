--[[
  Releases an idempotency claim if it is still ours, after a publish that did not go through,
  so the client's retry is not told "in progress" for the rest of the claim's lifetime.

  Input:
    KEYS[1] idempotency key

    ARGV[1] the pending marker we set

  Output:
    1 released, 0 not ours (already final, or claimed by another publish)
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
