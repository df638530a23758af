/**
 * `add-jobs`: many BullMQ adds to one queue in one Lua call, built from BullMQ's own add scripts.
 *
 * Each of BullMQ's add scripts (standard, prioritized, delayed) becomes a local function taking the
 * KEYS and ARGV it would have been called with, so the job it stores is BullMQ's, byte for byte
 * (test/engine/bull-add.test.ts holds it to `Job.addJob`); what changes is the cost around it: one
 * command, one round of argument encoding and one script call per queue and flush, instead of per
 * message.
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

/** How a message names its add script in `add-jobs`'s arguments. */
export const ADD_KIND_ARG: Record<AddKind, string> = { standard: 's', prioritized: 'p', delayed: 'd' };

const SCRIPTS: Record<AddKind, { content: string; keys: number }> = {
  standard: addStandardJob,
  prioritized: addPrioritizedJob,
  delayed: addDelayedJob,
};

function addJobsLua(): string {
  const kinds = Object.entries(SCRIPTS).map(([kind, script]) => {
    const keys = ADD_SCRIPT_KEYS[kind as AddKind];
    if (keys.length !== script.keys) {
      throw new Error(`BullMQ's ${kind} add script takes ${script.keys} keys, add-jobs knows ${keys.length}`);
    }
    const indexes = keys.map((key) => ADD_JOBS_KEYS.indexOf(key) + 1).join(', ');
    return {
      define: `local function ${kind}(KEYS, ARGV)\n${script.content}\nend`,
      entry: `${ADD_KIND_ARG[kind as AddKind]} = { ${kind}, pick({ ${indexes} }) }`,
    };
  });
  return `${kinds.map((kind) => kind.define).join('\n')}
local function pick(indexes)
  local keys = {}
  for i, index in ipairs(indexes) do keys[i] = KEYS[index] end
  return keys
end
local kinds = { ${kinds.map((kind) => kind.entry).join(', ')} }
-- ARGV: for each job, its kind and the three arguments BullMQ's add script takes.
local added = 0
for i = 1, #ARGV, 4 do
  local kind = kinds[ARGV[i]]
  if not kind then return redis.error_reply('ERR add-jobs: unknown add kind ' .. tostring(ARGV[i])) end
  local result = kind[1](kind[2], { ARGV[i + 1], ARGV[i + 2], ARGV[i + 3] })
  if type(result) == 'number' and result < 0 then
    return redis.error_reply('ERR add-jobs: BullMQ add failed with code ' .. result)
  end
  added = added + 1
end
return added
`;
}

export const ADD_JOBS_LUA = addJobsLua();
