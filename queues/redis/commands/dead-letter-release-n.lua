--[[
  Readies dead letters of one queue for replay, each only while it still is one (in the queue's
  failed set): drops it from the topic's index, counts the replay on the job, notes it in the job's
  log, clears what would fail the next attempt at once (BullMQ's stalled counter and deferred failure)
  and, for an edited replay, stores the new message. Queued in one MULTI right before BullMQ's own
  reprocessJob for each of the jobs, which checks the same failed set: for each job both act, or
  neither does.

  Every key comes in KEYS, named by queues/redis/keys.ts (DeadLetterKeys, BullKeys); the script
  builds none. The caller names the jobs from what it read before; the check against the failed set
  here decides.

  Input:
    KEYS[1] the queue's failed set (BullMQ)
    KEYS[2] the topic's index of every dead letter
    KEYS[3] the queue's index
    KEYS[4 .. 3+R] the topic's index per reason, in the order of ARGV[2]
    KEYS[4+R .. 3+2R] the queue's index per reason, in the same order
    KEYS[4+2R ..] per job, in the order of ARGV[4..]: its hash and its logs (BullMQ)

    ARGV[1] queue name
    ARGV[2] the known failure reasons, comma-separated (R of them)
    ARGV[3] the time of the replay (ISO-8601), for the log line
    ARGV[4..] per job, three values: the job id; the new job data (JSON) or '' to keep it; the reason
              the dead letter is indexed under (what its failedReason names) or '' when unknown, to
              drop it from every reason's sets

  Output:
    per job, its replay count after this one, or 0 when it is not a dead letter (nothing changed but
    dropping a stale index entry)
]]
local rcall = redis.call
local queue = ARGV[1]

local known = {}
local reasonCount = 0
for reason in string.gmatch(ARGV[2], '[^,]+') do
  reasonCount = reasonCount + 1
  known[reason] = reasonCount
end
local jobKeysAt = 4 + 2 * reasonCount

local answer = {}
for n = 1, (#ARGV - 3) / 3 do
  local at = 1 + 3 * n
  local jobId, data, reasons = ARGV[at], ARGV[at + 1], ARGV[at + 2]
  local member = queue .. '/' .. jobId
  local jobKey, logsKey = KEYS[jobKeysAt + 2 * (n - 1)], KEYS[jobKeysAt + 2 * (n - 1) + 1]
  rcall('ZREM', KEYS[2], member)
  rcall('ZREM', KEYS[3], member)
  for reason in string.gmatch(reasons ~= '' and reasons or ARGV[2], '[^,]+') do
    local index = known[reason]
    if index then
      rcall('ZREM', KEYS[3 + index], member)
      rcall('ZREM', KEYS[3 + reasonCount + index], member)
    end
  end
  local count = 0
  if rcall('ZSCORE', KEYS[1], jobId) and rcall('EXISTS', jobKey) == 1 then
    if data ~= '' then
      rcall('HSET', jobKey, 'data', data)
    end
    rcall('HDEL', jobKey, 'stc', 'defa')
    count = rcall('HINCRBY', jobKey, 'syReplays', 1)
    rcall('RPUSH', logsKey, '{"replay":' .. count .. ',"at":"' .. ARGV[3] .. '"}')
  end
  answer[#answer + 1] = count
end
return answer
