import type { RedisClient } from './connection.js';

/**
 * Runs `start`, which sends commands on `connection`, with the connection's socket corked until this
 * turn's microtasks are done: commands sent in that time (a receive's takes of one round, the acks of
 * one request) leave in one write instead of one write each. Each write is a system call in the
 * gateway and a read in Redis, and those were the largest single cost of the consumer path (a quarter
 * of the gateway's CPU in scenario 6's profile). Nothing waits for the uncork: a command sent after it
 * (one whose arguments needed I/O first) is written at once, as without it. A cluster client has no
 * socket of its own (each node has one), so it is left as it is.
 */
export function corked<T>(connection: RedisClient, start: () => T): T {
  const stream = 'stream' in connection && connection.status === 'ready' ? connection.stream : null;
  if (!stream) return start();
  stream.cork();
  // A tick queued from a microtask runs once the microtask queue is empty: after every command that
  // `start` sent without waiting for I/O.
  process.nextTick(() => stream.uncork());
  return start();
}
