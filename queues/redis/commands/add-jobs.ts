/**
 * `add-jobs`: many BullMQ adds to one queue in one Lua call, built from BullMQ's own add scripts.
 *
 * Each of BullMQ's add scripts (standard, prioritized, delayed) becomes a local function taking the
 * KEYS and ARGV it would have been called with, so the job it stores is BullMQ's, byte for byte
 * (test/engine/bull-add.test.ts holds it to `Job.addJob`); what changes is the cost around it: one
 * command, one round of argument encoding and one script call per queue and flush, instead of per
 * message.
 *
 * BullMQ's scripts name a job's hash from the queue's prefix and the job id (`args[1] .. jobId`); here
 * that line is replaced (with {@link JOB_KEY_LINE}) by the job key the caller passed in KEYS, so the
 * scripts touch no key they did not receive. The ids are the publisher's, known before the call.
 *
 * An add's small parts travel together in one argument ({@link encodeAdds}), not one or more per add:
 * ioredis spends ~0.6 µs on every argument it takes in and encodes (flattened, then three pieces of
 * protocol each, each piece measured twice and copied). Each job's data, though, is an argument of
 * its own. Redis's Lua hashes every byte of every string it makes (the whole string, not a sample,
 * against collision attacks), so a data cut out of one shared argument with `string.sub` was hashed
 * twice: ~1.5 KB per message of scenario 2's, the largest part of what Redis spent per message beyond
 * raw BullMQ's add (docs/PERFORMANCE.md, "Redis's Lua hashes every byte").
 *
 * BullMQ's scripts decode their arguments and options with `cmsgpack.unpack` (`local args = …` and
 * `local opts = …`); those two lines are replaced too ({@link UNPACK_LINES}), and the functions get
 * the tables already made: the arguments from the add's few fields (the key prefix once per call,
 * the job id, the name and the timestamp, the latter as the decimal digits BullMQ's HMSET would have
 * printed from the number), the options decoded once per call for every add that has the same (a
 * queue's adds share them: the retry policy and the priority). Decoding both per add was ~17k of
 * Redis's ~238k instructions per message; the tables are the ones cmsgpack would have made, and the
 * scripts only read them.
 */
import { addDelayedJob } from 'bullmq/dist/esm/scripts/addDelayedJob-6.js';
import { addPrioritizedJob } from 'bullmq/dist/esm/scripts/addPrioritizedJob-9.js';
import { addStandardJob } from 'bullmq/dist/esm/scripts/addStandardJob-9.js';

/** The queue keys each add script takes, in its KEYS order (BullMQ's Scripts.add*JobArgs). */
export const ADD_SCRIPT_KEYS = {
  standard: ['wait', 'paused', 'meta', 'id', 'completed', 'delayed', 'active', 'events', 'marker'],
  prioritized: ['marker', 'meta', 'id', 'prioritized', 'delayed', 'completed', 'active', 'events', 'pc'],
  delayed: ['marker', 'meta', 'id', 'delayed', 'completed', 'events'],
} as const;
export type AddKind = keyof typeof ADD_SCRIPT_KEYS;

/** The keys `add-jobs` takes: every key any of the three scripts needs, once. */
export const ADD_JOBS_KEYS: readonly string[] = [...new Set(Object.values(ADD_SCRIPT_KEYS).flat())];

/** How an add names its script in `add-jobs`'s argument: one byte. */
const KIND_CODES: Record<AddKind, string> = { standard: 's', prioritized: 'p', delayed: 'd' };

/** One add, as BullMQ's add script takes it: its arguments' fields, the job data, msgpack of its options. */
export interface EncodedAdd {
  kind: AddKind;
  jobId: string;
  name: string;
  /** Milliseconds since the epoch, a safe integer. */
  timestamp: number;
  data: Buffer;
  /** msgpack of the options; adds with equal options should share one instance (encodeAdds keeps one copy). */
  opts: Uint8Array;
}

/** Each add: its kind's byte, its options' number (16 bits), the lengths of its id (16), timestamp (8) and name (16). */
const ADD_HEADER_BYTES = 8;

/**
 * The adds' shared argument: the queue's key prefix and the distinct options (a length, 32 bits, before
 * each; a 16-bit count before the options), then the adds one after another, each its header and its
 * id, timestamp digits and name. Each add's data is not in it: it travels as an argument of its own, in
 * the same order.
 */
export function encodeAdds(prefix: string, adds: readonly EncodedAdd[]): Buffer {
  const options = new Map<Uint8Array, number>();
  const texts: [id: Buffer, timestamp: string, name: Buffer][] = [];
  let size = 4 + Buffer.byteLength(prefix) + 2;
  for (const add of adds) {
    if (!options.has(add.opts)) {
      options.set(add.opts, options.size);
      size += 4 + add.opts.length;
    }
    if (!Number.isSafeInteger(add.timestamp))
      throw new Error(`an add's timestamp must be whole ms: ${add.timestamp}`);
    const text: [Buffer, string, Buffer] = [
      Buffer.from(add.jobId),
      String(add.timestamp),
      Buffer.from(add.name),
    ];
    texts.push(text);
    size += ADD_HEADER_BYTES + text[0].length + text[1].length + text[2].length;
  }
  if (options.size > 0xffff) throw new Error('encodeAdds takes at most 65,535 distinct options');
  const bytes = Buffer.allocUnsafe(size);
  let at = bytes.writeUInt32BE(Buffer.byteLength(prefix), 0);
  at += bytes.write(prefix, at);
  at = bytes.writeUInt16BE(options.size, at);
  for (const opts of options.keys()) {
    at = bytes.writeUInt32BE(opts.length, at);
    bytes.set(opts, at);
    at += opts.length;
  }
  adds.forEach((add, index) => {
    const [id, timestamp, name] = texts[index] as [Buffer, string, Buffer];
    if (id.length > 0xffff || name.length > 0xffff)
      throw new Error("an add's id and name take at most 65,535 bytes");
    at = bytes.writeUInt8(KIND_CODES[add.kind].charCodeAt(0), at);
    at = bytes.writeUInt16BE(options.get(add.opts) as number, at);
    at = bytes.writeUInt16BE(id.length, at);
    at = bytes.writeUInt8(timestamp.length, at);
    at = bytes.writeUInt16BE(name.length, at);
    id.copy(bytes, at);
    at += id.length;
    at += bytes.write(timestamp, at, 'latin1');
    name.copy(bytes, at);
    at += name.length;
  });
  return bytes;
}

const SCRIPTS: Record<AddKind, { content: string; keys: number }> = {
  standard: addStandardJob,
  prioritized: addPrioritizedJob,
  delayed: addDelayedJob,
};

/** Where BullMQ's add scripts build a job's key: once for a generated id, once for a custom one. */
const JOB_KEY_LINE = 'jobIdKey = args[1] .. jobId';

/** Where BullMQ's add scripts decode their arguments and options, and what add-jobs puts there instead. */
const UNPACK_LINES: [line: string, instead: string][] = [
  ['local args = cmsgpack.unpack(ARGV[1])', 'local args = ARGV[1]'],
  ['local opts = cmsgpack.unpack(ARGV[3])', 'local opts = ARGV[3]'],
];

/**
 * A BullMQ add script with its job key taken from the parameter `jobKey` instead of being built, and
 * its arguments and options taken as the tables they decode to.
 */
function withJobKeyParameter(kind: string, content: string): string {
  const parts = content.split(JOB_KEY_LINE);
  if (parts.length !== 3) {
    throw new Error(`BullMQ's ${kind} add script no longer builds its job key as add-jobs expects`);
  }
  let script = parts.join('jobIdKey = jobKey');
  for (const [line, instead] of UNPACK_LINES) {
    const around = script.split(line);
    if (around.length !== 2) throw new Error(`BullMQ's ${kind} add script no longer has '${line}' once`);
    script = around.join(instead);
  }
  return script;
}

/**
 * BullMQ's three add scripts as Lua local functions `standard`, `prioritized` and `delayed`, each
 * taking the KEYS and ARGV it would have been called with and the job's key, plus `addKinds(keyAt)`: the table from a
 * kind's byte to its function and its KEYS, picked with `keyAt(position in ADD_JOBS_KEYS)`.
 */
export function addFunctionsLua(): string {
  const kinds = Object.entries(SCRIPTS).map(([kind, script]) => {
    const keys = ADD_SCRIPT_KEYS[kind as AddKind];
    if (keys.length !== script.keys) {
      throw new Error(`BullMQ's ${kind} add script takes ${script.keys} keys, add-jobs knows ${keys.length}`);
    }
    const indexes = keys.map((key) => ADD_JOBS_KEYS.indexOf(key) + 1).join(', ');
    return {
      define: `local function ${kind}(KEYS, ARGV, jobKey)\n${withJobKeyParameter(kind, script.content)}\nend`,
      entry: `[${KIND_CODES[kind as AddKind].charCodeAt(0)}] = { ${kind}, pick({ ${indexes} }) }`,
    };
  });
  return `${kinds.map((kind) => kind.define).join('\n')}
-- The head of one queue's adds (encodeAdds): BullMQ's key prefix, the distinct options decoded (each
-- once, for every add naming it) and where the adds start; nil when the bytes are not a whole head.
local function addsHead(adds)
  local size = #adds
  if size < 6 then return nil end
  local at = 5 + struct.unpack('>I4', adds, 1)
  if at + 1 > size then return nil end
  local prefix = string.sub(adds, 5, at - 1)
  local count = struct.unpack('>H', adds, at)
  at = at + 2
  local options = {}
  for i = 1, count do
    if at + 3 > size then return nil end
    local length = struct.unpack('>I4', adds, at)
    if at + 3 + length > size then return nil end
    local ok, opts = pcall(cmsgpack.unpack, string.sub(adds, at + 4, at + 3 + length))
    if not ok or type(opts) ~= 'table' then return nil end
    options[i] = opts
    at = at + 4 + length
  end
  return prefix, options, at
end
-- The add starting at byte 'at' of 'adds' (encodeAdds), whose job data is 'data' (an argument of its own):
-- its kind's byte, the ARGV BullMQ's add script takes for it (its arguments and options as the tables
-- cmsgpack would have decoded), and where the next add starts; nil when the bytes there are not a whole add.
local function cutAdd(adds, at, prefix, options, data)
  local size = #adds
  if at + ${ADD_HEADER_BYTES - 1} > size then return nil end
  local optsIndex, idLength, timestampLength, nameLength = struct.unpack('>HHBH', adds, at + 1)
  local opts = options[optsIndex + 1]
  local idAt = at + ${ADD_HEADER_BYTES}
  local timestampAt = idAt + idLength
  local nameAt = timestampAt + timestampLength
  local nextAt = nameAt + nameLength
  if nextAt > size + 1 or not opts then return nil end
  local args = {
    prefix, string.sub(adds, idAt, timestampAt - 1), string.sub(adds, nameAt, nextAt - 1),
    string.sub(adds, timestampAt, nameAt - 1)
  }
  return string.byte(adds, at), { args, data, opts }, nextAt
end
local function addKinds(keyAt)
  local function pick(indexes)
    local keys = {}
    for i, index in ipairs(indexes) do keys[i] = keyAt(index) end
    return keys
  end
  return { ${kinds.map((kind) => kind.entry).join(', ')} }
end
`;
}

/**
 * KEYS: the ADD_JOBS_KEYS, then each add's job key (BullKeys.job) in the order of the adds.
 * ARGV[1]: the adds (encodeAdds); ARGV[2…]: each add's job data, in the same order.
 */
function addJobsLua(): string {
  return `${addFunctionsLua()}
local kinds = addKinds(function(index) return KEYS[index] end)
-- ARGV[1]: the adds (encodeAdds): the key prefix and the distinct options, then each add's kind, the
-- number of its options, its id, timestamp and name; ARGV[1 + n]: the n-th add's data.
local adds = ARGV[1]
local jobKeysAt = ${ADD_JOBS_KEYS.length}
local prefix, options, at = addsHead(adds)
if not prefix then return redis.error_reply('ERR add-jobs: malformed adds head') end
local size, added = #adds, 0
while at <= size do
  local data = ARGV[2 + added]
  local code, argv, nextAt = cutAdd(adds, at, prefix, options, data)
  local kind = code and kinds[code]
  if not kind then return redis.error_reply('ERR add-jobs: malformed add at byte ' .. at) end
  at = nextAt
  added = added + 1
  if not data then return redis.error_reply('ERR add-jobs: no data for add ' .. added) end
  local jobKey = KEYS[jobKeysAt + added]
  if not jobKey then return redis.error_reply('ERR add-jobs: no job key for add ' .. added) end
  local result = kind[1](kind[2], argv, jobKey)
  if type(result) == 'number' and result < 0 then
    return redis.error_reply('ERR add-jobs: BullMQ add failed with code ' .. result)
  end
end
return added
`;
}

export const ADD_JOBS_LUA = addJobsLua();
