--[[
  Readies dead letters of one queue for replay, each only while it still is one (in the queue's
  failed set): drops it from the topic's index, counts the replay on the job, notes it in the job's
  log, clears what would fail the next attempt at once (BullMQ's stalled counter and deferred failure)
  and, for an edited replay, stores the new message. Queued in one MULTI right before BullMQ's own
  reprocessJob for each of the jobs, which checks the same failed set: for each job both act, or
  neither does.

  Input:
    KEYS[1] the queue's failed set (BullMQ)

    ARGV[1] job key prefix of the queue ('<bull prefix>:<queue>:')
    ARGV[2] index base of the topic
    ARGV[3] queue name
    ARGV[4] the known failure reasons, comma-separated
    ARGV[5] the time of the replay (ISO-8601), for the log line
    ARGV[6..] per job, three values: the job id; the new job data (JSON) or '' to keep it; the reason
              the dead letter is indexed under (what its failedReason names) or '' when unknown, to
              drop it from every reason's sets

  Output:
    per job, its replay count after this one, or 0 when it is not a dead letter (nothing changed but
    dropping a stale index entry)
]]
local rcall = redis.call
local jobPrefix, base, queue = ARGV[1], ARGV[2], ARGV[3]

local answer = {}
for i = 6, #ARGV, 3 do
  local jobId, data, reasons = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local member = queue .. '/' .. jobId
  local jobKey = jobPrefix .. jobId
  rcall('ZREM', base, member)
  rcall('ZREM', base .. ':q:' .. queue, member)
  for reason in string.gmatch(reasons ~= '' and reasons or ARGV[4], '[^,]+') do
    rcall('ZREM', base .. ':r:' .. reason, member)
    rcall('ZREM', base .. ':qr:' .. queue .. ':' .. reason, member)
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
