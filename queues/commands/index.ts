import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { ADD_JOBS_KEYS, ADD_JOBS_LUA } from './add-jobs.js';
import { PUBLISH_COMMIT_LUA } from './publish-commit.js';

/** Our Lua commands, named `<name>-<numKeys>.lua` like BullMQ's, defined on a client by name. */
const COMMANDS = [
  'create-queue-2',
  'delete-topic-2',
  'replace-queue-1',
  'release-claim-1',
  'rate-limit-1',
  'dead-letter-index-3',
  'dead-letter-page-1',
  'dead-letter-release-1',
  'dead-letter-discard-2',
  'circuit-failure-2',
  'circuit-success-2',
  'circuit-gate-2',
  'circuit-reset-2',
  'oldest-waiting-3',
  'alert-set-1',
] as const;
/** Commands whose Lua is built in code rather than read from a file. */
const GENERATED = { 'add-jobs-11': ADD_JOBS_LUA };
if (ADD_JOBS_KEYS.length !== 11) throw new Error(`add-jobs takes ${ADD_JOBS_KEYS.length} keys, not 11`);
export type CommandName = (typeof COMMANDS)[number] | keyof typeof GENERATED;

/** The method a command is defined under, on the client and on its pipelines and MULTIs alike. */
export const commandMethod = (file: CommandName | 'publish-commit') => `sy_${file.replaceAll('-', '_')}`;

export type Commands = Record<CommandName, (keys: string[], args: string[]) => Promise<number>> & {
  /** queues/commands/publish-commit.ts: its number of keys varies, so it goes with each call. */
  'publish-commit': (keys: string[], args: (string | number | Buffer)[]) => Promise<unknown>;
};

export function defineCommands(client: Redis): Commands {
  const commands = {} as Commands;
  for (const file of [...COMMANDS, ...(Object.keys(GENERATED) as (keyof typeof GENERATED)[])]) {
    const numberOfKeys = Number(file.slice(file.lastIndexOf('-') + 1));
    const lua =
      (GENERATED as Record<string, string>)[file] ??
      readFileSync(new URL(`./${file}.lua`, import.meta.url), 'utf8');
    const method = commandMethod(file);
    client.defineCommand(method, { numberOfKeys, lua });
    const run = (client as unknown as Record<string, (...args: string[]) => Promise<number>>)[method];
    if (!run) throw new Error(`Lua command ${file} did not register`);
    commands[file] = (keys, args) => run.call(client, ...keys, ...args);
  }
  const commit = commandMethod('publish-commit');
  client.defineCommand(commit, { lua: PUBLISH_COMMIT_LUA });
  const runCommit = (client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[commit];
  if (!runCommit) throw new Error('Lua command publish-commit did not register');
  commands['publish-commit'] = (keys, args) => runCommit.call(client, keys.length, ...keys, ...args);
  return commands;
}
