/**
 * `ordering-enqueue` and `ordering-advance`: the Lua of ordering keys (docs/PATTERNS.md#ordering-keys).
 *
 * A message with an ordering key is added to its queue as a BullMQ delayed job parked far in the
 * future (PARK_MS), and its id recorded in the queue's `pending` hash in the same publish call. Then:
 *
 * - `ordering-enqueue` moves a pending id to the back of its key's line (a list of `<id>|<due ms>`)
 *   and, when the key has no head, makes it the head and releases it;
 * - `ordering-advance` moves a key on from a finished head (its job gone, as `removeOnComplete`
 *   leaves a delivered one, or in the failed set: dead-lettered): the next of the line whose job
 *   still exists becomes the head and is released.
 *
 * Every key either script touches comes in KEYS, job hashes included. The ids at the front of a line
 * are only known inside Redis, so the caller reads them first (queues/redis/ordering.ts) and
 * `ordering-advance` checks again that the key's head and the line's front are still what was read;
 * if either moved meanwhile it writes nothing and answers READ_AGAIN. When every entry read was a
 * removed job and the line goes on, the last of them is left as the (finished) head, and the answer
 * is READ_AGAIN too, so no head is ever dropped while its line still holds messages.
 *
 * Releasing a head is BullMQ's own `promote` (the job goes to wait or to the prioritized set, with
 * its marker and its `waiting` event), its job key taken from KEYS instead of built, or, when its
 * own delay has not passed yet, a move within the delayed set to its due time, from where BullMQ
 * promotes it itself.
 *
 * KEYS (both): [1] pending, [2] heads, then the BullMQ keys of promote-9 in its order: [3] delayed,
 * [4] wait, [5] paused, [6] meta, [7] prioritized, [8] active, [9] pc, [10] events, [11] marker,
 * [12] failed, then the line and job keys the entries name.
 * ARGV (both): [1] now (ms), then the entries.
 * `ordering-enqueue` entry: the position in KEYS of its key's line, the ordering key, the job id, the
 * position of its job key. Output: how many entries were enqueued.
 * `ordering-advance` entry: the line's position, the ordering key, the head read, the position of
 * the head's job key, how many line entries were read (n), then n times the entry as read
 * (`<id>|<due ms>`) and the position of its job key. Output: per entry, ADVANCED, LEFT_ALONE (the
 * head is another or not finished) or READ_AGAIN.
 */
import { promote } from 'bullmq/dist/esm/scripts/promote-9.js';

/** How far in the future a message waiting in its key's line is parked in BullMQ's delayed set. */
export const PARK_MS = 5 * 365 * 24 * 60 * 60 * 1000;

/** The keys both commands take before the line and job keys. */
export const ORDERING_BASE_KEYS = 12;

/** What `ordering-advance` answers for each entry. */
export const ADVANCED = 1;
export const LEFT_ALONE = 0;
export const READ_AGAIN = 2;

/** Where BullMQ's promote builds the job's key from its prefix; replaced by the key from KEYS. */
const PROMOTE_JOB_KEY_LINE = 'local jobKey = ARGV[1] .. jobId';

function promoteWithJobKey(): string {
  const parts = promote.content.split(PROMOTE_JOB_KEY_LINE);
  if (parts.length !== 2)
    throw new Error("BullMQ's promote no longer builds its job key as ordering expects");
  return parts.join('-- jobKey: the parameter, from KEYS');
}

const COMMON = `
local function promote(KEYS, ARGV, jobKey)
${promoteWithJobKey()}
end
local now = tonumber(ARGV[1])
local pendingKey, headsKey, delayedKey, markerKey, failedKey = KEYS[1], KEYS[2], KEYS[3], KEYS[11], KEYS[12]
local promoteKeys = { KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11] }

-- A head is released: delivered now, or at its own due time if that is still to come.
local function release(jobId, jobKey, due)
  if not redis.call('ZSCORE', delayedKey, jobId) then return end
  if due > now then
    redis.call('ZADD', delayedKey, due * 0x1000, jobId)
    local first = redis.call('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
    if first[2] then redis.call('ZADD', markerKey, tonumber(first[2]) / 0x1000, '1') end
  else
    promote(promoteKeys, { '', jobId }, jobKey)
  end
end
`;

export const ORDERING_ENQUEUE_LUA = `${COMMON}
local count, at = 0, 2
while ARGV[at] do
  local lineKey, orderingKey, jobId, jobKey = KEYS[tonumber(ARGV[at])], ARGV[at + 1], ARGV[at + 2], KEYS[tonumber(ARGV[at + 3])]
  at = at + 4
  local due = redis.call('HGET', pendingKey, jobId)
  if due then
    redis.call('HDEL', pendingKey, jobId)
    if redis.call('EXISTS', jobKey) == 1 then
      count = count + 1
      -- HSETNX: a key without a head takes this message as its head at once (its line is empty then).
      if redis.call('HSETNX', headsKey, orderingKey, jobId) == 1 then
        release(jobId, jobKey, tonumber(due))
      else
        redis.call('RPUSH', lineKey, jobId .. '|' .. due)
      end
    end
  end
end
return count
`;

export const ORDERING_ADVANCE_LUA = `${COMMON}
-- The line's front is still the entries read (and the line is empty when none were).
local function frontIs(lineKey, entries)
  if #entries == 0 then return redis.call('LLEN', lineKey) == 0 end
  local front = redis.call('LRANGE', lineKey, 0, #entries - 1)
  if #front ~= #entries then return false end
  for i, entry in ipairs(entries) do
    if front[i] ~= entry[1] then return false end
  end
  return true
end

-- Pops the entries read until one whose job exists, which becomes the head and is released.
local function advance(lineKey, orderingKey, entries)
  for _, entry in ipairs(entries) do
    redis.call('LPOP', lineKey)
    if redis.call('EXISTS', entry[2]) == 1 then
      local bar = string.find(entry[1], '|', 1, true)
      local jobId = string.sub(entry[1], 1, bar - 1)
      redis.call('HSET', headsKey, orderingKey, jobId)
      release(jobId, entry[2], tonumber(string.sub(entry[1], bar + 1)))
      return ${ADVANCED}
    end
  end
  if redis.call('LLEN', lineKey) == 0 then
    redis.call('HDEL', headsKey, orderingKey)
    return ${ADVANCED}
  end
  -- Every entry read was removed and the line goes on: the last one heads it, finished, for the next read.
  local last = entries[#entries][1]
  redis.call('HSET', headsKey, orderingKey, string.sub(last, 1, string.find(last, '|', 1, true) - 1))
  return ${READ_AGAIN}
end

local results, at = {}, 2
while ARGV[at] do
  local lineKey, orderingKey, expected = KEYS[tonumber(ARGV[at])], ARGV[at + 1], ARGV[at + 2]
  local headJobKey, count = KEYS[tonumber(ARGV[at + 3])], tonumber(ARGV[at + 4])
  local entries = {}
  for i = 1, count do
    entries[i] = { ARGV[at + 3 + i * 2], KEYS[tonumber(ARGV[at + 4 + i * 2])] }
  end
  at = at + 5 + count * 2
  local result = ${LEFT_ALONE}
  if redis.call('HGET', headsKey, orderingKey) == expected
    and (redis.call('EXISTS', headJobKey) == 0 or redis.call('ZSCORE', failedKey, expected)) then
    if frontIs(lineKey, entries) then result = advance(lineKey, orderingKey, entries) else result = ${READ_AGAIN} end
  end
  results[#results + 1] = result
end
return results
`;
