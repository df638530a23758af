--[[
  Checks one window of a topic's index set, read by the caller from the newest failure to the oldest,
  and answers the entries that are still dead letters: each one is checked against its queue's failed
  set (BullMQ's truth), and an entry whose job has left it (retried or removed by any BullMQ tool) is
  dropped from every index set on the way. The caller reads the next window from the rank it computes
  from this answer (queues/dead-letters/page.ts).

  Order: failure time, newest first; equal times by id ('<topic>/<queue>/<jobId>'), greatest first.
  A cursor (cursorScore, cursorId) answers only what comes strictly after it in that order, so a page
  never shifts when newer dead letters arrive.

  Every key comes in KEYS, named by queues/redis/keys.ts; the script builds none. The caller read the
  window before this call, so each entry is first checked against the set again: one that left it
  meanwhile counts as dropped, one whose score moved (its job failed again) is passed over.

  Input:
    KEYS[1] the index set walked (members '<queue>/<jobId>', scored by failure time in ms)
    KEYS[2] the topic's index of every dead letter
    KEYS[3 .. 2+R] the topic's index per reason, in the order of ARGV[6]
    then per queue of ARGV[5], 2+R keys: its failed set (BullMQ), its index, its index per reason
    then per window entry, J keys: its job's hash and its job's logs (BullMQ) when ARGV[9] is '1'
    (J = 2), its job's hash alone when only ARGV[7] is set (J = 1), none otherwise (J = 0); an
    entry without '/' gets keys that are never read

    ARGV[1]  highest score to answer ('+inf' or ms); with a cursor, the cursor's score
    ARGV[2]  lowest score to answer ('-inf' or ms): an entry below it ends the walk
    ARGV[3]  cursor id: an entry scored ARGV[1] is answered only if '<topic>/'..member is below it
             ('' when there is no cursor)
    ARGV[4]  '<topic>/', the id prefix of this topic's entries
    ARGV[5]  the queues whose keys follow, comma-separated
    ARGV[6]  the known failure reasons, comma-separated (R of them)
    ARGV[7]  search text, lower case: a substring of the failedReason or of the job id ('' for none)
    ARGV[8]  '1' to only count what matches
    ARGV[9]  '1' to answer each entry with its job (so a page takes no further round trip)
    ARGV[10] '1' to drop the entries of a queue not in ARGV[5] (a deleted queue's), '0' to pass
             over them
    ARGV[11] how many entries to answer at most (ignored when counting)
    ARGV[12..] the window: per entry its member and its score, as the caller read them

  Output:
    { entries looked at, of those the ones no longer in KEYS[1], 1 if an entry below ARGV[2] ended
    the walk (else 0), matches, entry1, entry2, … }, each entry { member, score } or, with ARGV[9],
    { member, score, failed score, data, failedReason, attemptsMade, timestamp, replay count,
    { log lines… } }
]]
local rcall = redis.call
local key = KEYS[1]
local maxArg, minArg, cursorId, idPrefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local search, countOnly, hydrate = ARGV[7], ARGV[8] == '1', ARGV[9] == '1'
local dropUnlisted, want = ARGV[10] == '1', tonumber(ARGV[11])
local maxScore = tonumber(maxArg) or math.huge
local minScore = tonumber(minArg) or -math.huge

local reasonCount = 0
for _ in string.gmatch(ARGV[6], '[^,]+') do
  reasonCount = reasonCount + 1
end
-- Per listed queue, the KEYS index of its failed set; its index and reason sets follow it.
local queueAt = {}
local listed = 0
for queue in string.gmatch(ARGV[5], '[^,]+') do
  queueAt[queue] = 3 + reasonCount + listed * (2 + reasonCount)
  listed = listed + 1
end
local perEntry = hydrate and 2 or (search ~= '' and 1 or 0)
local entryKeysAt = 3 + reasonCount + listed * (2 + reasonCount)
-- The hash and the logs of the job of the window's entry n (from 1).
local function jobHash(n)
  return KEYS[entryKeysAt + (n - 1) * perEntry]
end
local function jobLogs(n)
  return KEYS[entryKeysAt + (n - 1) * perEntry + 1]
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

local function matchesSearch(n, jobId)
  if search == '' or string.find(string.lower(jobId), search, 1, true) then
    return true
  end
  local reason = rcall('HGET', jobHash(n), 'failedReason')
  return reason ~= false and string.find(string.lower(reason), search, 1, true) ~= nil
end

local function hydrated(n, member, score, failedScore)
  local fields = rcall('HMGET', jobHash(n), 'data', 'failedReason', 'atm', 'timestamp', 'syReplays')
  return { member, score, failedScore, fields[1], fields[2], fields[3], fields[4], fields[5],
    rcall('LRANGE', jobLogs(n), 0, -1) }
end

local answer = { 0, 0, 0, 0 }
local consumed, dropped, matches = 0, 0, 0
for n = 1, (#ARGV - 11) / 2 do
  local member, scoreArg = ARGV[10 + 2 * n], ARGV[11 + 2 * n]
  local score = tonumber(scoreArg)
  if score < minScore then
    answer[3] = 1
    break
  end
  consumed = consumed + 1
  local current = rcall('ZSCORE', key, member)
  local tie = cursorId ~= '' and score == maxScore and idPrefix .. member >= cursorId
  if not current then
    dropped = dropped + 1
  elseif tonumber(current) == score and score <= maxScore and not tie then
    local slash = string.find(member, '/', 1, true)
    local queue, jobId = string.sub(member, 1, (slash or 1) - 1), string.sub(member, (slash or 0) + 1)
    local at = slash and queueAt[queue]
    local failedScore = at and rcall('ZSCORE', KEYS[at], jobId)
    if slash and not at and not dropUnlisted then -- luacheck: ignore 542
      -- A queue this call was not given: neither answered nor dropped.
    elseif not failedScore then
      forget(queue, member)
      dropped = dropped + 1
    elseif matchesSearch(n, jobId) then
      matches = matches + 1
      if not countOnly then
        answer[#answer + 1] = hydrate and hydrated(n, member, scoreArg, failedScore) or { member, scoreArg }
        if matches >= want then
          break
        end
      end
    end
  end
end
answer[1], answer[2], answer[4] = consumed, dropped, matches
return answer
