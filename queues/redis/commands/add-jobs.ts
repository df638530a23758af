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
 * An add's small parts (its kind, BullMQ's msgpacked arguments and options) travel together in one
 * argument ({@link encodeAdds}), not three per add: ioredis spends ~0.6 µs on every argument it takes
 * in and encodes (flattened, then three pieces of protocol each, each piece measured twice and
 * copied). Each job's data, though, is an argument of its own. Redis's Lua hashes every byte of every
 * string it makes (Redis's Lua hashes the whole string, not a sample, against collision attacks), so a
 * data cut out of one shared argument with `string.sub` was hashed twice, as part of the argument and
 * as its own string: ~1.5 KB per message of scenario 2's, the largest part of what Redis spent per
 * message beyond raw BullMQ's add (docs/PERFORMANCE.md, "Redis's Lua hashes every byte").
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

/** One add, as BullMQ's add script takes it: msgpack of its arguments, the job data, msgpack of its options. */
export interface EncodedAdd {
  kind: AddKind;
  args: Uint8Array;
  data: Buffer;
  opts: Uint8Array;
}

/** The kind's byte, then the lengths of the arguments and the options (big-endian, 32 bits each). */
const HEADER_BYTES = 9;

/**
 * The adds' shared argument: the adds one after another, each its kind's byte, the byte lengths of
 * its msgpacked arguments and options and those two parts, which the script cuts out again in the
 * same order. Each add's data is not in it: it travels as an argument of its own, in the same order.
 */
export function encodeAdds(adds: readonly EncodedAdd[]): Buffer {
  let size = 0;
  for (const add of adds) size += HEADER_BYTES + add.args.length + add.opts.length;
  const bytes = Buffer.allocUnsafe(size);
  let at = 0;
  for (const { kind, args, opts } of adds) {
    bytes.write(KIND_CODES[kind], at, 'latin1');
    bytes.writeUInt32BE(args.length, at + 1);
    bytes.writeUInt32BE(opts.length, at + 5);
    at += HEADER_BYTES;
    bytes.set(args, at);
    at += args.length;
    bytes.set(opts, at);
    at += opts.length;
  }
  return bytes;
}

const SCRIPTS: Record<AddKind, { content: string; keys: number }> = {
  standard: addStandardJob,
  prioritized: addPrioritizedJob,
  delayed: addDelayedJob,
};

/** Where BullMQ's add scripts build a job's key: once for a generated id, once for a custom one. */
const JOB_KEY_LINE = 'jobIdKey = args[1] .. jobId';

/** A BullMQ add script with its job key taken from the parameter `jobKey` instead of being built. */
function withJobKeyParameter(kind: string, content: string): string {
  const parts = content.split(JOB_KEY_LINE);
  if (parts.length !== 3) {
    throw new Error(`BullMQ's ${kind} add script no longer builds its job key as add-jobs expects`);
  }
  return parts.join('jobIdKey = jobKey');
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
      entry: `${KIND_CODES[kind as AddKind]} = { ${kind}, pick({ ${indexes} }) }`,
    };
  });
  return `${kinds.map((kind) => kind.define).join('\n')}
-- The add starting at byte 'at' of 'adds' (encodeAdds), whose job data is 'data' (an argument of its own):
-- its kind's byte, the ARGV BullMQ's add script takes for it, and where the next add starts; nil when the
-- bytes there are not a whole add.
local function cutAdd(adds, at, data)
  local size = #adds
  if at + ${HEADER_BYTES - 1} > size then return nil end
  local argsLength, optsLength, argsAt = struct.unpack('>I4I4', adds, at + 1)
  local optsAt = argsAt + argsLength
  local nextAt = optsAt + optsLength
  if nextAt > size + 1 then return nil end
  return string.sub(adds, at, at), {
    string.sub(adds, argsAt, optsAt - 1), data, string.sub(adds, optsAt, nextAt - 1)
  }, nextAt
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
 * ARGV[1]: the adds one after another (encodeAdds); ARGV[2…]: each add's job data, in the same order.
 */
function addJobsLua(): string {
  return `${addFunctionsLua()}
local kinds = addKinds(function(index) return KEYS[index] end)
-- ARGV[1]: the adds one after another (encodeAdds): the kind's byte, the lengths of BullMQ's msgpacked
-- arguments and options (big-endian, 32 bits each), then those two; ARGV[1 + n]: the n-th add's data.
local adds = ARGV[1]
local jobKeysAt = ${ADD_JOBS_KEYS.length}
local at, size, added = 1, #adds, 0
while at <= size do
  local data = ARGV[2 + added]
  local code, argv, nextAt = cutAdd(adds, at, data)
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
