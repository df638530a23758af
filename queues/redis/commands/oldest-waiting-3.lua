--[[
  When the oldest message that a queue could deliver now became deliverable: the lag a consumer or
  webhook is behind, like SQS's age of the oldest message. Jobs are BullMQ's, so this reads where
  BullMQ keeps what waits: the wait and paused lists, whose old end is the right (BullMQ adds with
  LPUSH and takes from the right), and the prioritized set, whose score is
  priority * 2^32 + an add counter, so the first member of each priority band is that band's oldest.
  Delayed jobs (and retries waiting out their backoff) are not deliverable yet and not counted.

  Input:
    KEYS[1] wait list
    KEYS[2] paused list
    KEYS[3] prioritized set

    ARGV[1] job key prefix (the queue's key prefix; a job's hash is prefix .. id)
            (in the queue's hash tag {t:<topic>}, so in the slot of KEYS on a Redis Cluster)

  Output:
    the time in ms (job timestamp + delay) the oldest became deliverable, or -1 when none waits
]]
local prefix = ARGV[1]
local oldest = -1

local function consider(jobId)
  if not jobId then return end
  local fields = redis.call('HMGET', prefix .. jobId, 'timestamp', 'delay')
  local since = tonumber(fields[1])
  if not since then return end
  since = since + (tonumber(fields[2]) or 0)
  if oldest < 0 or since < oldest then oldest = since end
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

return oldest
