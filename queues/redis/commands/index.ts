import { readFileSync } from 'node:fs';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../connection.js';
import { ADD_JOBS_LUA } from './add-jobs.js';
import { HISTORY_TRIM_LUA } from './history-trim.js';
import { ORDERING_ADVANCE_LUA, ORDERING_ENQUEUE_LUA } from './ordering.js';
import { PUBLISH_COMMIT_LUA } from './publish-commit.js';

/**
 * Our Lua commands, named `<name>-<numKeys>.lua` like BullMQ's, defined on a client by name; `-n` marks a
 * command whose number of keys varies with the call (the caller's keys are counted for it).
 */
const COMMANDS = [
  'create-queue-2',
  'delete-topic-2',
  'replace-queue-1',
  'release-claim-1',
  'rate-limit-1',
  'dead-letter-index-n',
  'dead-letter-page-n',
  'dead-letter-release-n',
  'dead-letter-discard-n',
  'trail-append-n',
  'circuit-failure-2',
  'circuit-success-2',
  'circuit-gate-2',
  'circuit-reset-2',
  'waiting-heads-3',
  'alert-set-1',
] as const;
/** Commands whose Lua is built in code rather than read from a file. */
const GENERATED = {
  'add-jobs-n': ADD_JOBS_LUA,
  'publish-commit-n': PUBLISH_COMMIT_LUA,
  'history-trim-2': HISTORY_TRIM_LUA,
  'ordering-enqueue-n': ORDERING_ENQUEUE_LUA,
  'ordering-advance-n': ORDERING_ADVANCE_LUA,
};
export type CommandName = (typeof COMMANDS)[number] | keyof typeof GENERATED;

/** The method a command is defined under, on the client and on its pipelines and MULTIs alike. */
const commandMethod = (file: CommandName) => `sy_${file.replaceAll('-', '_')}`;

/**
 * Our Lua, defined on one client: `run` calls a command on it. On a pipeline or a MULTI of that client
 * the same command is queued with `queueCommand`, whose answer comes with exec().
 */
export interface Commands {
  /** Runs a command and answers what the script returns (T is the caller's reading of it). */
  run<T = unknown>(name: CommandName, keys: string[], args: (string | number | Buffer)[]): Promise<T>;
}

type Method = (...args: (string | number | Buffer)[]) => unknown;

function method(target: RedisClient | ChainableCommander, file: CommandName): Method {
  const found = (target as unknown as Record<string, Method | undefined>)[commandMethod(file)];
  if (!found) throw new Error(`Lua command ${file} is not defined on this client (call defineCommands)`);
  return found;
}

/** Clients the commands are defined on: each Lua file is read and defined once per client. */
const defined = new WeakMap<RedisClient, Commands>();

/** Defines every command on the client (once; a second call answers the first one's Commands). */
export function defineCommands(client: RedisClient): Commands {
  const known = defined.get(client);
  if (known) return known;
  for (const file of [...COMMANDS, ...(Object.keys(GENERATED) as (keyof typeof GENERATED)[])]) {
    const suffix = file.slice(file.lastIndexOf('-') + 1);
    const numberOfKeys = suffix === 'n' ? undefined : Number(suffix);
    const lua =
      (GENERATED as Record<string, string>)[file] ??
      readFileSync(new URL(`./${file}.lua`, import.meta.url), 'utf8');
    client.defineCommand(commandMethod(file), { numberOfKeys, lua });
    method(client, file);
  }
  const commands: Commands = {
    run: <T>(name: CommandName, keys: string[], args: (string | number | Buffer)[]) =>
      method(client, name).call(client, ...counted(name, keys), ...args) as Promise<T>,
  };
  defined.set(client, commands);
  return commands;
}

/** Queues a command on a pipeline or a MULTI of a client its commands are defined on (defineCommands). */
export function queueCommand(
  transaction: ChainableCommander,
  name: CommandName,
  keys: string[],
  args: (string | number | Buffer)[],
): void {
  method(transaction, name).call(transaction, ...counted(name, keys), ...args);
}

/** The keys as a call passes them: preceded by their number for a `-n` command. */
function counted(name: CommandName, keys: string[]): (string | number)[] {
  return name.endsWith('-n') ? [keys.length, ...keys] : keys;
}

/** Exec answers as values, throwing the first error: a failed command inside a MULTI is a bug here. */
export function answers(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('transaction aborted');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
