/**
 * `ordering-enqueue` and `ordering-advance`: the Lua of ordering keys (docs/PATTERNS.md#ordering-keys).
 *
 * A message with an ordering key is added to its queue as a BullMQ delayed job parked far in the
 * future (PARK_MS), and its id recorded in the queue's `pending` hash in the same publish call. Then:
 *
 * - `ordering-enqueue` moves a pending id to the back of its key's line (a list of `<id>|<due ms>`)
 *   and, when the key has no head, makes the front of the line the head and releases it;
 * - `ordering-advance` checks that a key's head is finished (its job gone, as `removeOnComplete`
 *   leaves a delivered one, or in the failed set: dead-lettered) and, if so, makes the next of the
 *   line the head and releases it. Idempotent: a head that is not finished, or is not the job named,
 *   is left alone, so every instance may call it at any time.
 *
 * Releasing a head is BullMQ's own `promote` (the job goes to wait or to the prioritized set, with
 * its marker and its `waiting` event), or, when its own delay has not passed yet, a move within the
 * delayed set to its due time, from where BullMQ promotes it itself.
 *
 * KEYS (both): [1] pending, [2] heads, then the BullMQ keys of promote-9 in its order: [3] delayed,
 * [4] wait, [5] paused, [6] meta, [7] prioritized, [8] active, [9] pc, [10] events, [11] marker,
 * [12] failed, then the line keys the entries name.
 * ARGV (both): [1] the queue's job prefix, [2] now (ms), then per entry three values: the position in
 * KEYS of its key's line, the ordering key, and the job id (`ordering-advance`: '' for "whatever the
 * head is").
 * Output: how many entries were enqueued, or how many keys advanced.
 */
import { promote } from 'bullmq/dist/esm/scripts/promote-9.js';

/** How far in the future a message waiting in its key's line is parked in BullMQ's delayed set. */
export const PARK_MS = 5 * 365 * 24 * 60 * 60 * 1000;

/** The keys both commands take before the line keys. */
export const ORDERING_BASE_KEYS = 12;

const COMMON = `
local function promote(KEYS, ARGV)
${promote.content}
end
local prefix, now = ARGV[1], tonumber(ARGV[2])
local pendingKey, headsKey, delayedKey, markerKey, failedKey = KEYS[1], KEYS[2], KEYS[3], KEYS[11], KEYS[12]
local promoteKeys = { KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11] }

-- A head is released: delivered now, or at its own due time if that is still to come.
local function release(jobId, due)
  if not redis.call('ZSCORE', delayedKey, jobId) then return end
  if due > now then
    redis.call('ZADD', delayedKey, due * 0x1000, jobId)
    local first = redis.call('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
    if first[2] then redis.call('ZADD', markerKey, tonumber(first[2]) / 0x1000, '1') end
  else
    promote(promoteKeys, { prefix, jobId })
  end
end

-- The front of the line becomes the key's head (a job removed meanwhile is skipped); none: no head.
local function advance(lineKey, orderingKey)
  while true do
    local entry = redis.call('LPOP', lineKey)
    if not entry then
      redis.call('HDEL', headsKey, orderingKey)
      return
    end
    local bar = string.find(entry, '|', 1, true)
    local jobId, due = string.sub(entry, 1, bar - 1), tonumber(string.sub(entry, bar + 1))
    if redis.call('EXISTS', prefix .. jobId) == 1 then
      redis.call('HSET', headsKey, orderingKey, jobId)
      release(jobId, due)
      return
    end
  end
end
`;

export const ORDERING_ENQUEUE_LUA = `${COMMON}
local count, at = 0, 3
while ARGV[at] do
  local lineKey, orderingKey, jobId = KEYS[tonumber(ARGV[at])], ARGV[at + 1], ARGV[at + 2]
  at = at + 3
  local due = redis.call('HGET', pendingKey, jobId)
  if due then
    redis.call('HDEL', pendingKey, jobId)
    if redis.call('EXISTS', prefix .. jobId) == 1 then
      count = count + 1
      -- HSETNX: a key without a head takes this message as its head at once (its line is empty then).
      if redis.call('HSETNX', headsKey, orderingKey, jobId) == 1 then
        release(jobId, tonumber(due))
      else
        redis.call('RPUSH', lineKey, jobId .. '|' .. due)
      end
    end
  end
end
return count
`;

export const ORDERING_ADVANCE_LUA = `${COMMON}
local count, at = 0, 3
while ARGV[at] do
  local lineKey, orderingKey, jobId = KEYS[tonumber(ARGV[at])], ARGV[at + 1], ARGV[at + 2]
  at = at + 3
  local head = redis.call('HGET', headsKey, orderingKey)
  if head and (jobId == '' or jobId == head)
    and (redis.call('EXISTS', prefix .. head) == 0 or redis.call('ZSCORE', failedKey, head)) then
    advance(lineKey, orderingKey)
    count = count + 1
  end
end
return count
`;
