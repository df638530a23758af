--[[
  The ids of the messages a queue could deliver first: the candidates for its oldest deliverable
  message, whose age is the lag a consumer or webhook is behind (like SQS's age of the oldest
  message). Jobs are BullMQ's, so this reads where BullMQ keeps what waits: the wait and paused
  lists, whose old end is the right (BullMQ adds with LPUSH and takes from the right), and the
  prioritized set, whose score is priority * 2^32 + an add counter, so the first member of each
  priority band is that band's oldest. Delayed jobs (and retries waiting out their backoff) are not
  deliverable yet and not counted.

  Read-only. The caller reads the candidates' hashes next, named by their ids (queues/stats/stats.ts):
  the script touches no key but its KEYS.

  Input:
    KEYS[1] wait list
    KEYS[2] paused list
    KEYS[3] prioritized set

  Output:
    the candidates' job ids (none when nothing waits)
]]
local ids = {}

local function consider(jobId)
  if jobId then ids[#ids + 1] = jobId end
end

consider(redis.call('LINDEX', KEYS[1], -1))
consider(redis.call('LINDEX', KEYS[2], -1))

local BAND = 4294967296
local from = '-inf'
-- Switchyard maps priorities to at most ten bands; the bound keeps a foreign queue from looping long.
for _ = 1, 64 do
  local first = redis.call('ZRANGEBYSCORE', KEYS[3], from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #first == 0 then break end
  consider(first[1])
  from = (math.floor(tonumber(first[2]) / BAND) + 1) * BAND
end

return ids
