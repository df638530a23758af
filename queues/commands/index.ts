import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

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
] as const;
export type CommandName = (typeof COMMANDS)[number];

/** The method a command is defined under, on the client and on its pipelines and MULTIs alike. */
export const commandMethod = (file: CommandName) => `sy_${file.replaceAll('-', '_')}`;

export type Commands = Record<CommandName, (keys: string[], args: string[]) => Promise<number>>;

export function defineCommands(client: Redis): Commands {
  const commands = {} as Commands;
  for (const file of COMMANDS) {
    const numberOfKeys = Number(file.slice(file.lastIndexOf('-') + 1));
    const lua = readFileSync(new URL(`./${file}.lua`, import.meta.url), 'utf8');
    const method = commandMethod(file);
    client.defineCommand(method, { numberOfKeys, lua });
    const run = (client as unknown as Record<string, (...args: string[]) => Promise<number>>)[method];
    if (!run) throw new Error(`Lua command ${file} did not register`);
    commands[file] = (keys, args) => run.call(client, ...keys, ...args);
  }
  return commands;
}
