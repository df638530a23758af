--[[
  Removes dead letters of one queue, each only while it still is one (in the queue's failed set, and
  failed no later than ARGV[5]): the job and its keys go the way BullMQ's removeJob takes them, its
  index entries with it, and BullMQ's event stream gets its 'removed' event. A job that is part of a
  flow (it has a parent) is left to BullMQ's own removal, which knows about parents.

  Every index set comes in KEYS (queues/redis/keys.ts, DeadLetterKeys.queueSets); a job's keys are
  BullMQ's, named from its job key prefix as BullMQ's own removeJob names them.
  Redis Cluster: those job keys carry the topic's hash tag {t:<topic>}, like every key in KEYS, so
  they lie in the slot the call is routed to (Redis refuses only keys of another slot).

  Input:
    KEYS[1] the queue's failed set (BullMQ)
    KEYS[2] the queue's event stream (BullMQ)
    KEYS[3] the topic's index of every dead letter
    KEYS[4] the queue's index
    KEYS[5 .. 4+R] the topic's index per reason, in the order of ARGV[4]
    KEYS[5+R .. 4+2R] the queue's index per reason, in the same order

    ARGV[1] job key prefix of the queue ('<bull prefix>:<queue>:')
    ARGV[2] (unused)
    ARGV[3] queue name
    ARGV[4] the known failure reasons, comma-separated (R of them); a failedReason '<REASON>: …' names one
    ARGV[5] the failedReason BullMQ writes for a job that stalled too often (indexed as TIMEOUT)
    ARGV[6] latest failure time (ms) a job may have to be removed, or '+inf'
    ARGV[7..] job ids

  Output:
    { removed job ids…, then for each job left to BullMQ: '!' .. job id }
]]
local rcall = redis.call
local jobPrefix, queue = ARGV[1], ARGV[3]
local latest = tonumber(ARGV[6]) or math.huge

local reasons = {}
local known = {}
for reason in string.gmatch(ARGV[4], '[^,]+') do
  reasons[#reasons + 1] = reason
  known[reason] = #reasons
end

-- The reason the index files a failedReason under (as dead-letter-index-n.lua reads it).
local function reasonOf(failedReason)
  if not failedReason then
    return 'UNKNOWN'
  end
  if failedReason == ARGV[5] then
    return 'TIMEOUT'
  end
  local colon = string.find(failedReason, ':', 1, true)
  local prefix = colon and string.sub(failedReason, 1, colon - 1)
  return prefix and known[prefix] and prefix or 'UNKNOWN'
end

-- Drops a member from the index: from its reason's sets when the reason is known, else from all.
local function forget(member, reason)
  rcall('ZREM', KEYS[3], member)
  rcall('ZREM', KEYS[4], member)
  for _, other in ipairs(reason and { reason } or reasons) do
    rcall('ZREM', KEYS[4 + known[other]], member)
    rcall('ZREM', KEYS[4 + #reasons + known[other]], member)
  end
end

local answer = {}
for i = 7, #ARGV do
  local jobId = ARGV[i]
  local jobKey = jobPrefix .. jobId
  local score = rcall('ZSCORE', KEYS[1], jobId)
  if not score then
    forget(queue .. '/' .. jobId, nil)
  elseif tonumber(score) <= latest then
    if rcall('HEXISTS', jobKey, 'parentKey') == 1 then
      answer[#answer + 1] = '!' .. jobId
    else
      local reason = reasonOf(rcall('HGET', jobKey, 'failedReason'))
      rcall('ZREM', KEYS[1], jobId)
      rcall('DEL', jobKey, jobKey .. ':logs', jobKey .. ':dependencies', jobKey .. ':processed',
        jobKey .. ':failed', jobKey .. ':unsuccessful')
      rcall('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'event', 'removed', 'jobId', jobId, 'prev', 'failed')
      forget(queue .. '/' .. jobId, reason)
      answer[#answer + 1] = jobId
    end
  end
end
return answer
