--[[
  Removes dead letters of one queue, each only while it still is one (in the queue's failed set, and
  failed no later than ARGV[4]): the job and its keys go the way BullMQ's removeJob takes them, its
  index entries with it, and BullMQ's event stream gets its 'removed' event. A job that is part of a
  flow (it has a parent) is left to BullMQ's own removal, which knows about parents.

  Every key comes in KEYS, named by queues/redis/keys.ts (DeadLetterKeys, BullKeys.jobKeys); the
  script builds none. The caller names the jobs from what it read before; the check against the
  failed set here decides, so a job retried or removed in between is left alone.

  Input:
    KEYS[1] the queue's failed set (BullMQ)
    KEYS[2] the queue's event stream (BullMQ)
    KEYS[3] the topic's index of every dead letter
    KEYS[4] the queue's index
    KEYS[5 .. 4+R] the topic's index per reason, in the order of ARGV[2]
    KEYS[5+R .. 4+2R] the queue's index per reason, in the same order
    KEYS[5+2R ..] per job of ARGV[5..], its 6 keys in BullMQ's removeJobKeys order: its hash, logs,
                  dependencies, processed, failed and unsuccessful

    ARGV[1] queue name
    ARGV[2] the known failure reasons, comma-separated (R of them); a failedReason '<REASON>: …' names one
    ARGV[3] the failedReason BullMQ writes for a job that stalled too often (indexed as TIMEOUT)
    ARGV[4] latest failure time (ms) a job may have to be removed, or '+inf'
    ARGV[5..] job ids

  Output:
    { removed job ids…, then for each job left to BullMQ: '!' .. job id }
]]
local rcall = redis.call
local queue = ARGV[1]
local latest = tonumber(ARGV[4]) or math.huge

local reasons = {}
local known = {}
for reason in string.gmatch(ARGV[2], '[^,]+') do
  reasons[#reasons + 1] = reason
  known[reason] = #reasons
end
local JOB_KEYS = 6
local jobKeysAt = 5 + 2 * #reasons

-- The reason the index files a failedReason under (as dead-letter-index-n.lua reads it).
local function reasonOf(failedReason)
  if not failedReason then
    return 'UNKNOWN'
  end
  if failedReason == ARGV[3] then
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
for i = 1, #ARGV - 4 do
  local jobId = ARGV[4 + i]
  local first = jobKeysAt + (i - 1) * JOB_KEYS
  local jobKey = KEYS[first]
  local score = rcall('ZSCORE', KEYS[1], jobId)
  if not score then
    forget(queue .. '/' .. jobId, nil)
  elseif tonumber(score) <= latest then
    if rcall('HEXISTS', jobKey, 'parentKey') == 1 then
      answer[#answer + 1] = '!' .. jobId
    else
      local reason = reasonOf(rcall('HGET', jobKey, 'failedReason'))
      rcall('ZREM', KEYS[1], jobId)
      rcall('DEL', unpack(KEYS, first, first + JOB_KEYS - 1))
      rcall('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'event', 'removed', 'jobId', jobId, 'prev', 'failed')
      forget(queue .. '/' .. jobId, reason)
      answer[#answer + 1] = jobId
    end
  end
end
return answer
