import type { ChainableCommander, Redis } from 'ioredis';
import { FAILURE_REASONS } from '../core/index.js';
import { STALLED_OUT } from '../delivery/index.js';
import type { Keys } from '../redis/index.js';
import { type CommandName, commandMethod } from '../redis/index.js';

/** The failure reasons as the Lua commands take them. */
export const REASONS_ARG = FAILURE_REASONS.join(',');
/** The failedReason BullMQ writes for an over-stalled job; the index files it under TIMEOUT. */
export const STALLED_ARG = STALLED_OUT;

type Method = (...args: (string | number | Buffer)[]) => unknown;

function method(target: Redis | ChainableCommander, file: CommandName): Method {
  const found = (target as unknown as Record<string, Method | undefined>)[commandMethod(file)];
  if (!found) throw new Error(`Lua command ${file} is not defined on this client (call defineCommands)`);
  return found;
}

/** Runs one of our Lua commands and answers what the script returns. */
export function runCommand(
  client: Redis,
  file: CommandName,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  return method(client, file).call(client, ...keys, ...args) as Promise<unknown>;
}

/** Queues one of our Lua commands on a pipeline or a MULTI; its answer comes with exec(). */
export function queueCommand(
  transaction: ChainableCommander,
  file: CommandName,
  keys: string[],
  args: (string | number | Buffer)[],
): void {
  method(transaction, file).call(transaction, ...keys, ...args);
}

/**
 * BullMQ's keys of one queue of a topic, as its `Queue.toKey` names them: the engine reads dead letters
 * without a BullMQ handle per queue, in one pipeline.
 */
export function bullKeys(keys: Keys, topic: string, queue: string) {
  const prefix = `${keys.bullPrefix(topic)}:${queue}:`;
  return {
    /** '<bull prefix>:<queue>:', the prefix of the queue's job keys. */
    jobPrefix: prefix,
    failed: `${prefix}failed`,
    events: `${prefix}events`,
    job: (jobId: string) => `${prefix}${jobId}`,
    logs: (jobId: string) => `${prefix}${jobId}:logs`,
  };
}

/** Exec answers as values, throwing the first error: a failed command inside a MULTI is a bug here. */
export function answers(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('transaction aborted');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
