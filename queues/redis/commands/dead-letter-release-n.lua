--[[
  Readies dead letters of one queue for replay, each only while it still is one (in the queue's
  failed set): drops it from the topic's index, counts the replay on the job, notes it in the job's
  log, clears what would fail the next attempt at once (BullMQ's stalled counter and deferred failure)
  and, for an edited replay, stores the new message. Queued in one MULTI right before BullMQ's own
  reprocessJob for each of the jobs, which checks the same failed set: for each job both act, or
  neither does.

  Every index set comes in KEYS (queues/redis/keys.ts, DeadLetterKeys.queueSets); a job's keys are
  BullMQ's, named from its job key prefix as BullMQ's own scripts name them.
  Redis Cluster: those job keys carry the topic's hash tag {t:<topic>}, like every key in KEYS, so
  they lie in the slot the call is routed to (Redis refuses only keys of another slot).

  Input:
    KEYS[1] the queue's failed set (BullMQ)
    KEYS[2] the topic's index of every dead letter
    KEYS[3] the queue's index
    KEYS[4 .. 3+R] the topic's index per reason, in the order of ARGV[4]
    KEYS[4+R .. 3+2R] the queue's index per reason, in the same order

    ARGV[1] job key prefix of the queue ('<bull prefix>:<queue>:')
    ARGV[2] (unused)
    ARGV[3] queue name
    ARGV[4] the known failure reasons, comma-separated (R of them)
    ARGV[5] the time of the replay (ISO-8601), for the log line
    ARGV[6..] per job, three values: the job id; the new job data (JSON) or '' to keep it; the reason
              the dead letter is indexed under (what its failedReason names) or '' when unknown, to
              drop it from every reason's sets

  Output:
    per job, its replay count after this one, or 0 when it is not a dead letter (nothing changed but
    dropping a stale index entry)
]]
local rcall = redis.call
local jobPrefix, queue = ARGV[1], ARGV[3]

local known = {}
local reasonCount = 0
for reason in string.gmatch(ARGV[4], '[^,]+') do
  reasonCount = reasonCount + 1
  known[reason] = reasonCount
end

local answer = {}
for i = 6, #ARGV, 3 do
  local jobId, data, reasons = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local member = queue .. '/' .. jobId
  local jobKey = jobPrefix .. jobId
  rcall('ZREM', KEYS[2], member)
  rcall('ZREM', KEYS[3], member)
  for reason in string.gmatch(reasons ~= '' and reasons or ARGV[4], '[^,]+') do
    local at = known[reason]
    if at then
      rcall('ZREM', KEYS[3 + at], member)
      rcall('ZREM', KEYS[3 + reasonCount + at], member)
    end
  end
  local count = 0
  if rcall('ZSCORE', KEYS[1], jobId) and rcall('EXISTS', jobKey) == 1 then
    if data ~= '' then
      rcall('HSET', jobKey, 'data', data)
    end
    rcall('HDEL', jobKey, 'stc', 'defa')
    count = rcall('HINCRBY', jobKey, 'syReplays', 1)
    rcall('RPUSH', jobKey .. ':logs', '{"replay":' .. count .. ',"at":"' .. ARGV[5] .. '"}')
  end
  answer[#answer + 1] = count
end
return answer
