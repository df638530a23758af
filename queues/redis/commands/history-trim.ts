/**
 * The history's trimming with its index (keys.topicHistoryIds), shared by `publish-commit` (at each
 * history write) and `history-trim` (Topic.history, which trims what maxAgeMs no longer keeps before it
 * counts). Redis's trims do not say what they removed, so the entries about to go are read first and
 * their index fields deleted: the index never outgrows the history.
 *
 * A history entry's message id is read from its JSON, which starts `{"id":"<id>",` (message-json.ts
 * writes the id first; history.ts's scan relies on the same).
 */

/** Lua functions: `historyForget(ids, entries)`, `historyTrimOlder(key, ids, minId)`, `historyTrimToCount(key, ids, keep)`. */
export const HISTORY_TRIM_FUNCTIONS_LUA = `
-- Where the index starts: older entries were written before it existed (see keys.topicHistoryIds).
local HISTORY_SINCE = '~since'
-- How many expired entries are read at a time, so a long-idle topic's backlog never sits in memory whole.
local HISTORY_CHUNK = 256
local function historyEntryId(entry)
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'm' then return string.match(fields[i + 1], '^{"id":"([^"]+)"') end
  end
  return nil
end
local function historyForget(ids, entries)
  local names = {}
  for _, entry in ipairs(entries) do
    local name = historyEntryId(entry)
    if name then names[#names + 1] = name end
  end
  if #names > 0 then redis.call('HDEL', ids, unpack(names)) end
end
-- XTRIM MINID = minId, with the index fields of what it removes.
local function historyTrimOlder(key, ids, minId)
  local start = '-'
  while true do
    local entries = redis.call('XRANGE', key, start, '(' .. minId, 'COUNT', HISTORY_CHUNK)
    if #entries == 0 then break end
    historyForget(ids, entries)
    if #entries < HISTORY_CHUNK then break end
    start = '(' .. entries[#entries][1]
  end
  redis.call('XTRIM', key, 'MINID', '=', minId)
end
-- Forgets the index fields of the oldest entries beyond 'keep' (the XADD's MAXLEN then removes them).
local function historyTrimToCount(key, ids, keep)
  local over = redis.call('XLEN', key) - keep
  if over > 0 then historyForget(ids, redis.call('XRANGE', key, '-', '+', 'COUNT', over)) end
end
`;

/**
 * `history-trim`: XTRIM MINID of a topic's history with its index, then its length and oldest entry.
 *
 * KEYS: [1] the history stream, [2] its index hash.
 * ARGV: [1] the oldest time kept (ms); entries older are removed; 0: none is (a topic without maxAgeMs).
 * Output: { length, oldest entry's stream id or false }.
 */
export const HISTORY_TRIM_LUA = `${HISTORY_TRIM_FUNCTIONS_LUA}
if tonumber(ARGV[1]) > 0 and redis.call('TYPE', KEYS[1])['ok'] == 'stream' then
  historyTrimOlder(KEYS[1], KEYS[2], ARGV[1] .. '-0')
end
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
return { redis.call('XLEN', KEYS[1]), oldest and oldest[1] or false }
`;
