--[[
  Indexes dead letters of one queue from BullMQ's own truth: a job is indexed only while it sits in
  the queue's failed set, scored by its failure time there, under the reason its failedReason names.
  Idempotent: an entry already indexed with the same score is left alone, one with another score (the
  job was retried and failed again) is moved to its new score and reason.

  Every index set comes in KEYS, named by queues/redis/keys.ts (DeadLetterKeys.queueSets); the
  script builds none. A job's hash is BullMQ's key '<job key prefix><job id>', as BullMQ's own
  scripts name it from its prefix (in scan mode the ids are only known here).
  Redis Cluster: those job keys carry the topic's hash tag {t:<topic>}, like every key in KEYS, so
  they lie in the slot the call is routed to (Redis refuses only keys of another slot).

  Input:
    KEYS[1] the queue's failed set (BullMQ)
    KEYS[2] the topic's index of every dead letter
    KEYS[3] the queue's index
    KEYS[4 .. 3+R] the topic's index per reason, in the order of ARGV[5]
    KEYS[4+R .. 3+2R] the queue's index per reason, in the same order

    ARGV[1] mode: 'ids' (ARGV[7..] are job ids) or 'scan' (ARGV[7] first rank from the newest,
            ARGV[8] how many failed jobs to look at)
    ARGV[2] job key prefix of the queue ('<bull prefix>:<queue>:')
    ARGV[3] (unused)
    ARGV[4] queue name
    ARGV[5] the known failure reasons, comma-separated (R of them); a failedReason '<REASON>: …' names one
    ARGV[6] the failedReason BullMQ writes for a job that stalled too often (indexed as TIMEOUT)

  Output:
    ids:  number of entries written
    scan: { jobs looked at, entries written }
]]
local rcall = redis.call
local failedKey, allKey, queueKey = KEYS[1], KEYS[2], KEYS[3]
local jobPrefix, queue = ARGV[2], ARGV[4]

local reasons = {}
local known = {}
for reason in string.gmatch(ARGV[5], '[^,]+') do
  reasons[#reasons + 1] = reason
  known[reason] = #reasons
end
local function reasonKey(reason)
  return KEYS[3 + known[reason]]
end
local function queueReasonKey(reason)
  return KEYS[3 + #reasons + known[reason]]
end

local function reasonOf(failedReason)
  if not failedReason then
    return 'UNKNOWN'
  end
  if failedReason == ARGV[6] then
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

local function index(jobId, score)
  local member = queue .. '/' .. jobId
  local current = rcall('ZSCORE', queueKey, member)
  if current and tonumber(current) == tonumber(score) then
    return 0
  end
  local reason = reasonOf(rcall('HGET', jobPrefix .. jobId, 'failedReason'))
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

if ARGV[1] == 'ids' then
  local written = 0
  for i = 7, #ARGV do
    local score = rcall('ZSCORE', failedKey, ARGV[i])
    if score then
      written = written + index(ARGV[i], score)
    end
  end
  return written
end

local first = tonumber(ARGV[7])
local jobs = rcall('ZREVRANGE', failedKey, first, first + tonumber(ARGV[8]) - 1, 'WITHSCORES')
local written = 0
for i = 1, #jobs, 2 do
  written = written + index(jobs[i], jobs[i + 1])
end
return { #jobs / 2, written }
