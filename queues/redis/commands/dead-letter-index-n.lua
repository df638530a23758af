--[[
  Indexes dead letters of one queue from BullMQ's own truth: a job is indexed only while it sits in
  the queue's failed set, scored by its failure time there, under the reason its failedReason names.
  Idempotent: an entry already indexed with the same score is left alone, one with another score (the
  job was retried and failed again) is moved to its new score and reason.

  The caller names the jobs (the ones that just failed, or a range it read from the failed set) and
  passes each one's hash in KEYS; every key comes from queues/redis/keys.ts and the script builds
  none. Whatever happened to a job since the caller read its id, the check against the failed set
  here decides: a job that left it is not indexed.

  Input:
    KEYS[1] the queue's failed set (BullMQ)
    KEYS[2] the topic's index of every dead letter
    KEYS[3] the queue's index
    KEYS[4 .. 3+R] the topic's index per reason, in the order of ARGV[2]
    KEYS[4+R .. 3+2R] the queue's index per reason, in the same order
    KEYS[4+2R ..] each job's hash (BullMQ), in the order of ARGV[4..]

    ARGV[1] queue name
    ARGV[2] the known failure reasons, comma-separated (R of them); a failedReason '<REASON>: …' names one
    ARGV[3] the failedReason BullMQ writes for a job that stalled too often (indexed as TIMEOUT)
    ARGV[4..] job ids

  Output:
    number of entries written
]]
local rcall = redis.call
local failedKey, allKey, queueKey = KEYS[1], KEYS[2], KEYS[3]
local queue = ARGV[1]

local reasons = {}
local known = {}
for reason in string.gmatch(ARGV[2], '[^,]+') do
  reasons[#reasons + 1] = reason
  known[reason] = #reasons
end
local function reasonKey(reason)
  return KEYS[3 + known[reason]]
end
local function queueReasonKey(reason)
  return KEYS[3 + #reasons + known[reason]]
end
local function jobKey(i)
  return KEYS[3 + 2 * #reasons + i]
end

local function reasonOf(failedReason)
  if not failedReason then
    return 'UNKNOWN'
  end
  if failedReason == ARGV[3] then
    return 'TIMEOUT'
  end
  local colon = string.find(failedReason, ':', 1, true)
  if colon then
    local prefix = string.sub(failedReason, 1, colon - 1)
    if known[prefix] then
      return prefix
    end
  end
  return 'UNKNOWN'
end

local function index(i, jobId, score)
  local member = queue .. '/' .. jobId
  local current = rcall('ZSCORE', queueKey, member)
  if current and tonumber(current) == tonumber(score) then
    return 0
  end
  local reason = reasonOf(rcall('HGET', jobKey(i), 'failedReason'))
  for _, other in ipairs(reasons) do
    if other ~= reason then
      rcall('ZREM', reasonKey(other), member)
      rcall('ZREM', queueReasonKey(other), member)
    end
  end
  rcall('ZADD', allKey, score, member)
  rcall('ZADD', queueKey, score, member)
  rcall('ZADD', reasonKey(reason), score, member)
  rcall('ZADD', queueReasonKey(reason), score, member)
  return 1
end

local written = 0
for i = 1, #ARGV - 3 do
  local jobId = ARGV[3 + i]
  local score = rcall('ZSCORE', failedKey, jobId)
  if score then
    written = written + index(i, jobId, score)
  end
end
return written
