/**
 * `publish-commit`: one group commit's publishes in one Lua call, each of them all or nothing.
 *
 * Redis rolls nothing back: a command that fails inside MULTI/EXEC, or a script that fails half-way,
 * leaves what ran before it. So this script first checks everything its writes could trip over (the
 * type of every key they touch, and that the counters BullMQ increments hold integers) without
 * writing, marks every publish (an "owner") that would touch a bad key as failed, and only then
 * writes, for the publishes left: BullMQ's own adds (queues/commands/add-jobs.ts), then their
 * idempotency keys, counters, topic-history entries, a replay task's provenance trail entries
 * (docs/PROVENANCE.md; a publish writes none: its PUBLISHED entry is derived from the message it
 * stores) and live-stream PUBLISHes. A message is in its
 * topic's history (a stream, checked like every other key) if and only if its publish was applied,
 * and the live message carries the stream id it got. Under maxmemory the first write of the
 * script is refused before anything is written (and Redis lets a script that has written go on),
 * so an out-of-memory Redis refuses every publish of the call, whole.
 *
 * KEYS: the ADD_JOBS_KEYS of each queue (ADD_JOBS_KEYS.length each, queue after queue), then the
 * keys of the writes.
 * ARGV[1]: how many queues; ARGV[2]: how many owners; then per queue its adds (encodeAdds) and each
 * add's owner and its job key's position among the write keys (32-bit big-endian each, add after add:
 * BullMQ's add gets the job key from KEYS, see add-jobs.ts), the position plus PROBE (2^31) on each
 * owner's first add: when that job exists, this call already ran, its answer lost, and was sent
 * again, so the owner is answered as applied and nothing of it is written twice; then each add's job
 * data, an argument each, queue after queue and add after add; then the writes, each
 * a code and, but for V and H, its owner:
 * `S owner key value ms` (SET … PX), `H key field increments` (HINCRBY of the field by the sum of the
 * increments of the owners applied; `increments` holds per owner counting into it its number and its
 * increment, 32-bit big-endian and a big-endian double, checked once and written once per call),
 * `P owner channel message` (PUBLISH), `X owner key ids id maxMessages maxAgeMs message` (XADD of
 * field `m` to a topic's history, trimmed exactly to at most maxMessages entries and to none older than
 * maxAgeMs before the new entry's time, 0 meaning no such limit; `ids` its index hash, where the message
 * id `id` gets the entry's stream id and what the trims removed loses its field: history-trim.ts), `C owner x channel message` (PUBLISH of a
 * message JSON object with `"cursor":"<stream id>"` added, the id the x-th `X` write of the call got,
 * counted from 1), `T owner key head hash entry ttlMs` (RPUSH of a provenance trail entry, the
 * key's expiry raised to ttlMs: checked first that the trail's last stored entry has hash `head`, ''
 * when none is stored yet (the entry then links to the message's derived PUBLISHED entry), else the
 * owner is refused with `TRAIL_MOVED…`, which the caller answers by making its entry again; a trail
 * headed by this very hash means the call ran before, as with the first-job probe),
 * `V key topic version owners` (the topic's routing version, keys.topicRouting, for the owners routed
 * at `version`, 32-bit big-endian each: when `key` holds another value than `version`, a missing key
 * counting as '0', they were routed with a table older than the topic's records, and each is refused
 * with `ROUTING_MOVED <topic> …`, naming every topic of the owner that moved, nothing of it written;
 * checked before anything is written, so a change that lands after the check finds the publish
 * applied whole), `A owner key value` (as the first-job probe, when `key` holds `value`: an idempotency key
 * naming the owner's message, which covers a publish no queue matched or whose job was delivered
 * since), `key` being the write's position among the write keys.
 * Output: per owner, 1 when its writes were applied, or why none of them were.
 */
import { ADD_JOBS_KEYS, addFunctionsLua } from './add-jobs.js';
import { HISTORY_TRIM_FUNCTIONS_LUA } from './history-trim.js';

/** What BullMQ keeps under each of its keys that an add touches. */
const KEY_TYPES: Record<string, string> = {
  wait: 'list',
  paused: 'list',
  meta: 'hash',
  id: 'string',
  completed: 'zset',
  delayed: 'zset',
  active: 'list',
  events: 'stream',
  marker: 'zset',
  prioritized: 'zset',
  pc: 'string',
};
/** The keys an add INCRs: a value that is not an integer would fail it half-way. */
const COUNTERS = new Set(['id', 'pc']);

/** The script's state and helpers: key types, the trail's chain heads, the history's XADD. */
function preludeLua(): string {
  const types = ADD_JOBS_KEYS.map((name) => {
    const type = KEY_TYPES[name];
    if (!type) throw new Error(`publish-commit does not know what BullMQ keeps under '${name}'`);
    return `'${type}'`;
  });
  const counters = ADD_JOBS_KEYS.flatMap((name, index) =>
    COUNTERS.has(name) ? [`[${index + 1}] = true`] : [],
  );
  return `${HISTORY_TRIM_FUNCTIONS_LUA}
local PER_QUEUE = ${ADD_JOBS_KEYS.length}
local TYPES = { ${types.join(', ')} }
local COUNTER = { ${counters.join(', ')} }
local queues, owners = tonumber(ARGV[1]), tonumber(ARGV[2])
local writeKeysAt = queues * PER_QUEUE
local failed = {}
local applied = {}

-- Each key's type as read once per call: nothing is written before the checks are done.
local types = {}
local function typeOf(key)
  local found = types[key]
  if found == nil then
    found = redis.call('TYPE', key)['ok']
    types[key] = found
  end
  return found
end
local function isInteger(value)
  return value == false or (#value < 19 and string.match(value, '^%-?%d+$') ~= nil)
end
local function wrongType(key, expected)
  local found = typeOf(key)
  if found ~= 'none' and found ~= expected then
    return key .. ' holds a ' .. found .. ' where a ' .. expected .. ' belongs'
  end
  return nil
end
local function ownerAt(list, index) return struct.unpack('>I4', list, (index - 1) * 8 + 1) end
-- An add's job key position, PROBE set when the add is its owner's first (see E below).
local PROBE = 2147483648
local function jobKeyAt(list, index)
  local at = struct.unpack('>I4', list, (index - 1) * 8 + 5)
  if at >= PROBE then at = at - PROBE end
  return KEYS[writeKeysAt + at]
end
local function fail(owner, why) if not failed[owner] then failed[owner] = why end end
-- The stream ids the X writes got, by their number among the call's X writes.
local historyIds = {}
local XADD, PUBLISH_CURSOR = {}, {}
local function historyAdd(key, ids, messageId, maxMessages, maxAgeMs, message)
  local id
  if maxMessages > 0 then
    historyTrimToCount(key, ids, maxMessages - 1)
    id = redis.call('XADD', key, 'MAXLEN', '=', maxMessages, '*', 'm', message)
  else
    id = redis.call('XADD', key, '*', 'm', message)
  end
  redis.call('HSET', ids, messageId, id)
  redis.call('HSETNX', ids, HISTORY_SINCE, id)
  if maxAgeMs > 0 then
    local ms = tonumber(string.match(id, '^(%d+)'))
    historyTrimOlder(key, ids, (ms - maxAgeMs) .. '-0')
  end
  return id
end
local xCount = 0
-- Each trail's chain head as the call's earlier checks leave it, so two appends to one trail chain.
local trailHeads = {}
local function storedHash(entry)
  if not entry then return '' end
  local ok, decoded = pcall(cjson.decode, entry)
  if ok and type(decoded) == 'table' and type(decoded['hash']) == 'string' then return decoded['hash'] end
  return ''
end
local function trailHead(key)
  if trailHeads[key] == nil then trailHeads[key] = storedHash(redis.call('LINDEX', key, -1)) end
  return trailHeads[key]
end
local function trailAppend(key, entry, ttl)
  redis.call('RPUSH', key, entry)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
local TRAIL = {}
-- Each routing version as read once per call (pcall: a key of another type counts as moved).
local routingVersions = {}
local function routingVersion(key)
  local version = routingVersions[key]
  if version == nil then
    local stored = redis.pcall('GET', key)
    if stored == false then
      version = '0'
    elseif type(stored) == 'string' then
      version = stored
    else
      version = ''
    end
    routingVersions[key] = version
  end
  return version
end
-- The call's HINCRBYs, one per hash and field however many owners count into it (a flush of single
-- publishes to one topic counts each of them into one field): checked once, and written once with
-- the sum of the increments of the owners that passed.
local counters, counterList = {}, {}
local function counterOf(key, field)
  local fields = counters[key]
  if not fields then
    fields = {}
    counters[key] = fields
  end
  local counter = fields[field]
  if not counter then
    local problem = wrongType(key, 'hash')
    if not problem and not isInteger(redis.call('HGET', key, field)) then
      problem = key .. ' field ' .. field .. ' holds no integer'
    end
    counter = { key = key, field = field, problem = problem, owners = {}, increments = {} }
    fields[field] = counter
    counterList[#counterList + 1] = counter
  end
  return counter
end
local ROUTING_MOVED = 'ROUTING_MOVED '
local function routingMoved(owner, topic)
  local why = failed[owner]
  if not why then
    failed[owner] = ROUTING_MOVED .. topic
  elseif string.sub(why, 1, #ROUTING_MOVED) == ROUTING_MOVED then
    failed[owner] = why .. ' ' .. topic
  end
end

`;
}

/** Phase 1: checks every key a publish's writes touch, writing nothing, and gathers the writes. */
const CHECK_LUA = `-- 1. Check, writing nothing.
for q = 1, queues do
  local base, problem = (q - 1) * PER_QUEUE, nil
  for i = 1, PER_QUEUE do
    local key = KEYS[base + i]
    problem = wrongType(key, TYPES[i])
    if not problem and COUNTER[i] and not isInteger(redis.call('GET', key)) then
      problem = key .. ' holds no integer'
    end
    if problem then break end
  end
  local list = ARGV[2 + q * 2]
  for index = 1, #list / 8 do
    local owner = ownerAt(list, index)
    if problem then fail(owner, problem) end
    -- E: the owner's first job exists already, so this call ran before, its answer lost, and was sent
    -- again: the owner is answered as applied and nothing of it is written twice.
    if struct.unpack('>I4', list, (index - 1) * 8 + 5) >= PROBE and redis.call('EXISTS', jobKeyAt(list, index)) == 1 then
      applied[owner] = true
    end
  end
end
-- Each add's job data follows the queues' lists, an argument each (add-jobs.ts says why).
local dataAt, addCount = 3 + queues * 2, 0
for q = 1, queues do addCount = addCount + #ARGV[2 + q * 2] / 8 end
local writes, at = {}, dataAt + addCount
while ARGV[at] do
  local code, owner = ARGV[at], tonumber(ARGV[at + 1])
  if code == 'S' then
    local key = KEYS[writeKeysAt + tonumber(ARGV[at + 2])]
    local problem = wrongType(key, 'string')
    if problem then fail(owner, problem) end
    writes[#writes + 1] = { owner, 'SET', key, ARGV[at + 3], 'PX', ARGV[at + 4] }
    at = at + 5
  elseif code == 'H' then
    local counter = counterOf(KEYS[writeKeysAt + tonumber(ARGV[at + 1])], ARGV[at + 2])
    local list = ARGV[at + 3]
    for position = 1, #list, 12 do
      local counted, increment = struct.unpack('>I4d', list, position)
      if counter.problem then fail(counted, counter.problem) end
      counter.owners[#counter.owners + 1] = counted
      counter.increments[#counter.increments + 1] = increment
    end
    at = at + 4
  elseif code == 'P' then
    writes[#writes + 1] = { owner, 'PUBLISH', ARGV[at + 2], ARGV[at + 3] }
    at = at + 4
  elseif code == 'X' then
    local key = KEYS[writeKeysAt + tonumber(ARGV[at + 2])]
    local ids = KEYS[writeKeysAt + tonumber(ARGV[at + 3])]
    local problem = wrongType(key, 'stream') or wrongType(ids, 'hash')
    if problem then fail(owner, problem) end
    writes[#writes + 1] = {
      owner, XADD, key, ids, ARGV[at + 4], tonumber(ARGV[at + 5]), tonumber(ARGV[at + 6]), ARGV[at + 7],
    }
    at = at + 8
  elseif code == 'C' then
    writes[#writes + 1] = { owner, PUBLISH_CURSOR, tonumber(ARGV[at + 2]), ARGV[at + 3], ARGV[at + 4] }
    at = at + 5
  elseif code == 'T' then
    local key = KEYS[writeKeysAt + tonumber(ARGV[at + 2])]
    local problem = wrongType(key, 'list')
    if not problem then
      local head = trailHead(key)
      if head == ARGV[at + 4] then
        -- Our own entry heads the trail: this call ran before, its answer lost (see E).
        applied[owner] = true
      elseif head ~= ARGV[at + 3] then
        problem = 'TRAIL_MOVED: the trail of ' .. key .. ' moved on since its entry was made; make it again'
      else
        trailHeads[key] = ARGV[at + 4]
      end
    end
    if problem then fail(owner, problem) end
    writes[#writes + 1] = { owner, TRAIL, key, ARGV[at + 5], tonumber(ARGV[at + 6]) }
    at = at + 7
  elseif code == 'V' then
    local key = KEYS[writeKeysAt + tonumber(ARGV[at + 1])]
    if routingVersion(key) ~= ARGV[at + 3] then
      local list = ARGV[at + 4]
      for position = 1, #list, 4 do routingMoved(struct.unpack('>I4', list, position), ARGV[at + 2]) end
    end
    at = at + 5
  elseif code == 'A' then
    local key = KEYS[writeKeysAt + tonumber(ARGV[at + 2])]
    if typeOf(key) == 'string' and redis.call('GET', key) == ARGV[at + 3] then applied[owner] = true end
    at = at + 4
  else
    return redis.error_reply('ERR publish-commit: unknown write ' .. tostring(code))
  end
end

`;

/** Phase 2: the writes of every publish that passed, then each publish's answer. */
const WRITE_LUA = `-- 2. Write, for every publish that passed.
local dataIndex = dataAt
for q = 1, queues do
  local base = (q - 1) * PER_QUEUE
  local kinds = addKinds(function(index) return KEYS[base + index] end)
  local adds, list = ARGV[1 + q * 2], ARGV[2 + q * 2]
  local prefix, options, position = addsHead(adds)
  if not prefix then return redis.error_reply('ERR publish-commit: malformed adds head') end
  local size, index = #adds, 0
  while position <= size do
    index = index + 1
    local code, argv, nextAt = cutAdd(adds, position, prefix, options, ARGV[dataIndex])
    dataIndex = dataIndex + 1
    local kind = code and kinds[code]
    if not kind or index > #list / 8 then
      return redis.error_reply('ERR publish-commit: malformed add at byte ' .. position)
    end
    position = nextAt
    local owner = ownerAt(list, index)
    if not failed[owner] and not applied[owner] then
      local result = kind[1](kind[2], argv, jobKeyAt(list, index))
      if type(result) == 'number' and result < 0 then
        return redis.error_reply('ERR publish-commit: BullMQ add failed with code ' .. result)
      end
    end
  end
end
-- X writes are numbered over the whole call (passed or not), as PublishCommit numbers them.
for _, write in ipairs(writes) do
  local skip = failed[write[1]] or applied[write[1]]
  if write[2] == XADD then
    xCount = xCount + 1
    if not skip then historyIds[xCount] = historyAdd(unpack(write, 3)) end
  elseif skip then
    -- nothing of a refused or already applied owner is written
  elseif write[2] == TRAIL then
    trailAppend(write[3], write[4], write[5])
  elseif write[2] == PUBLISH_CURSOR then
    local id, message = historyIds[write[3]], write[5]
    if id then message = string.sub(message, 1, -2) .. ',"cursor":"' .. id .. '"}' end
    redis.call('PUBLISH', write[4], message)
  else
    redis.call(unpack(write, 2))
  end
end
for _, counter in ipairs(counterList) do
  local sum, counted = 0, false
  for i, owner in ipairs(counter.owners) do
    if not failed[owner] and not applied[owner] then
      sum = sum + counter.increments[i]
      counted = true
    end
  end
  if counted then redis.call('HINCRBY', counter.key, counter.field, string.format('%d', sum)) end
end

local results = {}
for owner = 0, owners - 1 do
  if applied[owner] then results[owner + 1] = 1 else results[owner + 1] = failed[owner] or 1 end
end
return results
`;

export const PUBLISH_COMMIT_LUA = `${addFunctionsLua()}\n${preludeLua()}\n${CHECK_LUA}\n${WRITE_LUA}`;
