import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** Our Lua commands, named `<name>-<numKeys>.lua` like BullMQ's, defined on a client by name. */
const COMMANDS = ['create-queue-2', 'delete-topic-2', 'replace-queue-1', 'release-claim-1'] as const;
type CommandName = (typeof COMMANDS)[number];

export type Commands = Record<CommandName, (keys: string[], args: string[]) => Promise<number>>;

export function defineCommands(client: Redis): Commands {
  const commands = {} as Commands;
  for (const file of COMMANDS) {
    const numberOfKeys = Number(file.slice(file.lastIndexOf('-') + 1));
    const lua = readFileSync(new URL(`./${file}.lua`, import.meta.url), 'utf8');
    const method = `sy_${file.replaceAll('-', '_')}`;
    client.defineCommand(method, { numberOfKeys, lua });
    const run = (client as unknown as Record<string, (...args: string[]) => Promise<number>>)[method];
    if (!run) throw new Error(`Lua command ${file} did not register`);
    commands[file] = (keys, args) => run.call(client, ...keys, ...args);
  }
  return commands;
}
