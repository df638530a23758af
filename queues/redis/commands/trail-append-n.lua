--[[
  Appends provenance trail entries (docs/PROVENANCE.md) for dead letters of one queue being replayed,
  each only while its job is still a dead letter (in the queue's failed set): queued in the replay's
  MULTI before the commands that replay, which check the same set, so an entry is written if and only
  if its replay is. The entries were made (SHA-256) by the caller, linked to the chain head it read
  under WATCH; a head that moved anyway is refused, nothing written for that job.

  Input:
    KEYS[1] the queue's failed set (BullMQ)
    KEYS[1+i] the trail of the i-th job (queues/redis/keys.ts, `trail`)

    ARGV[1] the trail's expiry in ms: raised to it, never lowered
    ARGV[2..] per job, three values: the job id; the hash the trail's last stored entry must have (''
              when none is stored yet: the entry then links to the PUBLISHED entry derived from the
              message record, docs/PROVENANCE.md); the entry (its stored JSON)

  Output:
    per job: 1 appended, 0 not a dead letter (nothing written), -1 the chain head moved (nothing written)
]]
local rcall = redis.call
local ttl = tonumber(ARGV[1])

local function headHash(key)
  local last = rcall('LINDEX', key, -1)
  if not last then return '' end
  local ok, entry = pcall(cjson.decode, last)
  if ok and type(entry) == 'table' and type(entry['hash']) == 'string' then return entry['hash'] end
  return ''
end

local answer = {}
for i = 2, #ARGV, 3 do
  local job = (i - 2) / 3 + 1
  local key = KEYS[1 + job]
  local result = 0
  if rcall('ZSCORE', KEYS[1], ARGV[i]) then
    if headHash(key) ~= ARGV[i + 1] then
      result = -1
    else
      rcall('RPUSH', key, ARGV[i + 2])
      if rcall('PTTL', key) < ttl then rcall('PEXPIRE', key, ttl) end
      result = 1
    end
  end
  answer[#answer + 1] = result
end
return answer
