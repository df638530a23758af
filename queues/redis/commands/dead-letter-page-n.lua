--[[
  Walks one index set of a topic from the newest failure to the oldest and answers the entries that
  are still dead letters: each one is checked against its queue's failed set (BullMQ's truth), and an
  entry whose job has left it (retried or removed by any BullMQ tool) is dropped from every index set
  on the way. Bounded by a budget of entries looked at per call; the caller continues from the rank
  answered.

  Order: failure time, newest first; equal times by id ('<topic>/<queue>/<jobId>'), greatest first.
  A cursor (cursorScore, cursorId) answers only what comes strictly after it in that order, so a page
  never shifts when newer dead letters arrive.

  Every index set and failed set comes in KEYS (queues/redis/keys.ts); the script builds none. A job's
  hash is BullMQ's key '<bull prefix>:<queue>:<job id>', named from the topic's BullMQ prefix as BullMQ's
  own scripts name a job from theirs (the ids are only known here).
  Redis Cluster: those job keys carry the topic's hash tag {t:<topic>}, like every key in KEYS, so
  they lie in the slot the call is routed to (Redis refuses only keys of another slot).

  Input:
    KEYS[1] the index set to walk (members '<queue>/<jobId>', scored by failure time in ms)
    KEYS[2] the topic's index of every dead letter
    KEYS[3 .. 2+R] the topic's index per reason, in the order of ARGV[11]
    then per queue of ARGV[10], 2+R keys: its failed set (BullMQ), its index, its index per reason

    ARGV[1]  highest score to answer ('+inf' or ms); with a cursor, the cursor's score
    ARGV[2]  lowest score to answer ('-inf' or ms)
    ARGV[3]  cursor id: an entry scored ARGV[1] is answered only if '<topic>/'..member is below it
             ('' when there is no cursor)
    ARGV[4]  the cursor's member if it belongs to this topic, to start right after it ('' otherwise)
    ARGV[5]  '<topic>/', the id prefix of this topic's entries
    ARGV[6]  rank to continue from (a previous answer), or -1 to start at ARGV[1]
    ARGV[7]  how many entries to answer at most (ignored when counting)
    ARGV[8]  budget: how many entries to look at in this call at most
    ARGV[9]  BullMQ prefix of the topic's queues (for job hashes)
    ARGV[10] the queues whose keys follow, comma-separated
    ARGV[11] the known failure reasons, comma-separated (R of them)
    ARGV[12] search text, lower case: a substring of the failedReason or of the job id ('' for none)
    ARGV[13] '1' to only count what matches
    ARGV[14] '1' to answer each entry with its job (so a page takes one round trip)
    ARGV[15] '1' to drop the entries of a queue not in ARGV[10] (a deleted queue's), '0' to pass
             over them

  Output:
    { next rank (-1 when the walk reached the end), matches, entry1, entry2, … }, each entry
    { member, score } or, with ARGV[14], { member, score, failed score, data, failedReason,
    attemptsMade, timestamp, replay count, { log lines… } }
]]
local rcall = redis.call
local key = KEYS[1]
local maxArg, minArg, cursorId, cursorMember, idPrefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local want, budget = tonumber(ARGV[7]), tonumber(ARGV[8])
local bullPrefix, search, countOnly = ARGV[9], ARGV[12], ARGV[13] == '1'
local dropUnlisted = ARGV[15] == '1'
local hydrate = ARGV[14] == '1'
local maxScore = tonumber(maxArg) or math.huge
local minScore = tonumber(minArg) or -math.huge

local reasonCount = 0
for _ in string.gmatch(ARGV[11], '[^,]+') do
  reasonCount = reasonCount + 1
end
-- Per listed queue, the KEYS index of its failed set; its index and reason sets follow it.
local queueAt = {}
local listed = 0
for queue in string.gmatch(ARGV[10], '[^,]+') do
  queueAt[queue] = 3 + reasonCount + listed * (2 + reasonCount)
  listed = listed + 1
end

local function forget(queue, member)
  rcall('ZREM', key, member)
  rcall('ZREM', KEYS[2], member)
  for r = 1, reasonCount do
    rcall('ZREM', KEYS[2 + r], member)
  end
  local at = queueAt[queue]
  if at then
    for k = at + 1, at + 1 + reasonCount do
      rcall('ZREM', KEYS[k], member)
    end
  end
end

local rank = tonumber(ARGV[6])
if rank < 0 then
  rank = nil
  if cursorMember ~= '' then
    local score = rcall('ZSCORE', key, cursorMember)
    if score and tonumber(score) == maxScore then
      rank = rcall('ZREVRANK', key, cursorMember) + 1
    end
  end
  if not rank then
    rank = maxArg == '+inf' and 0 or rcall('ZCOUNT', key, '(' .. maxArg, '+inf')
  end
end

local answer = { -1, 0 }
local matches = 0
local looked = 0
while looked < budget do
  local size = math.min(200, budget - looked)
  local batch = rcall('ZREVRANGE', key, rank, rank + size - 1, 'WITHSCORES')
  if #batch == 0 then
    answer[1] = -1
    break
  end
  local consumed, dropped = 0, 0
  local finished = false
  for i = 1, #batch, 2 do
    local member, score = batch[i], tonumber(batch[i + 1])
    if score < minScore then
      finished = true
      break
    end
    consumed = consumed + 1
    local tie = cursorId ~= '' and score == maxScore and idPrefix .. member >= cursorId
    if score <= maxScore and not tie then
      local slash = string.find(member, '/', 1, true)
      local queue, jobId = string.sub(member, 1, (slash or 1) - 1), string.sub(member, (slash or 0) + 1)
      local at = slash and queueAt[queue]
      local failedScore = at and rcall('ZSCORE', KEYS[at], jobId)
      if slash and not at and not dropUnlisted then -- luacheck: ignore 542
        -- A queue this call was not given: neither answered nor dropped.
      elseif not failedScore then
        forget(queue, member)
        dropped = dropped + 1
      else
        local hit = search == ''
        if not hit then
          hit = string.find(string.lower(jobId), search, 1, true) ~= nil
          if not hit then
            local reason = rcall('HGET', bullPrefix .. ':' .. queue .. ':' .. jobId, 'failedReason')
            hit = reason ~= false and string.find(string.lower(reason), search, 1, true) ~= nil
          end
        end
        if hit then
          matches = matches + 1
          if not countOnly then
            local entry = { member, batch[i + 1] }
            if hydrate then
              local jobKey = bullPrefix .. ':' .. queue .. ':' .. jobId
              local fields = rcall('HMGET', jobKey, 'data', 'failedReason', 'atm', 'timestamp', 'syReplays')
              entry = { member, batch[i + 1], failedScore, fields[1], fields[2], fields[3], fields[4], fields[5],
                rcall('LRANGE', jobKey .. ':logs', 0, -1) }
            end
            answer[#answer + 1] = entry
            if matches >= want then
              break
            end
          end
        end
      end
    end
  end
  looked = looked + consumed
  rank = rank + consumed - dropped
  if finished then
    answer[1] = -1
    break
  end
  answer[1] = rank
  if not countOnly and matches >= want then
    break
  end
  if #batch < size * 2 then
    answer[1] = -1
    break
  end
end
answer[2] = matches
return answer
