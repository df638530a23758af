--[[
  Removes dead letters of one queue, each only while it still is one (in the queue's failed set, and
  failed no later than ARGV[5]): the job and its keys go the way BullMQ's removeJob takes them, its
  index entries with it, and BullMQ's event stream gets its 'removed' event. A job that is part of a
  flow (it has a parent) is left to BullMQ's own removal, which knows about parents.

  Input:
    KEYS[1] the queue's failed set (BullMQ)
    KEYS[2] the queue's event stream (BullMQ)

    ARGV[1] job key prefix of the queue ('<bull prefix>:<queue>:')
    ARGV[2] index base of the topic
    ARGV[3] queue name
    ARGV[4] the known failure reasons, comma-separated; a failedReason '<REASON>: …' names one
    ARGV[5] the failedReason BullMQ writes for a job that stalled too often (indexed as TIMEOUT)
    ARGV[6] latest failure time (ms) a job may have to be removed, or '+inf'
    ARGV[7..] job ids

  Output:
    { removed job ids…, then for each job left to BullMQ: '!' .. job id }
]]
local rcall = redis.call
local jobPrefix, base, queue = ARGV[1], ARGV[2], ARGV[3]
local latest = tonumber(ARGV[6]) or math.huge

local reasons = {}
local known = {}
for reason in string.gmatch(ARGV[4], '[^,]+') do
  reasons[#reasons + 1] = reason
  known[reason] = true
end

-- The reason the index files a failedReason under (as dead-letter-index-3.lua reads it).
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
  rcall('ZREM', base, member)
  rcall('ZREM', base .. ':q:' .. queue, member)
  for _, other in ipairs(reason and { reason } or reasons) do
    rcall('ZREM', base .. ':r:' .. other, member)
    rcall('ZREM', base .. ':qr:' .. queue .. ':' .. other, member)
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
