import { PublishCommit, ROUTING_MOVED, type RunPublishCommit } from './publish-commit.js';

export interface GroupCommitOptions {
  /** Sends one flush's `publish-commit` call. */
  run: RunPublishCommit;
  /**
   * The most weight (BullMQ adds, as callers declare them) one call carries; the callers after it go
   * into the next call of the same flush, and a caller heavier than this gets one of its own.
   * @default {@link MAX_TRANSACTION_ADDS}
   */
  maxWeight?: number;
  /** Fault injection for tests: runs just before a call is sent, and may throw. @default none */
  beforeExec?: () => void;
}

interface Entry {
  write(commit: PublishCommit): void;
  weight: number;
  /** Which calls it may share: only entries of one slot group go into one call. */
  slot: string;
  resolve(): void;
  reject(error: unknown): void;
}

/** A caller's writes were refused, before any of them was made: they would have failed half-way. */
export class CommitRefusedError extends Error {
  override readonly name: string = 'CommitRefusedError';
}

/**
 * A caller's writes were refused, none of them made, because a topic's routing changed after the
 * caller routed its messages (PublishCommit.routedAt): route them again and retry.
 */
export class RoutingMovedError extends CommitRefusedError {
  override readonly name: string = 'RoutingMovedError';
  constructor(
    /** The topics whose routing version moved on. */
    readonly topics: readonly string[],
  ) {
    super(`Nothing was written: the routing of ${topics.join(', ')} changed since this publish was routed`);
  }
}

/** The error a caller refused with `refusal` (publish-commit's reason) is rejected with. */
function refusalError(refusal: string): CommitRefusedError {
  if (refusal.startsWith(`${ROUTING_MOVED} `)) {
    return new RoutingMovedError(refusal.slice(ROUTING_MOVED.length + 1).split(' '));
  }
  return new CommitRefusedError(`Nothing was written: ${refusal}`);
}

/**
 * How many BullMQ adds one group-commit call carries at most. Redis spends more per add in one huge
 * call than in several small ones: with AOF on, 256 single publishes in one MULTI cost it ~40 µs of
 * CPU per add, in MULTIs of at most 64 adds ~30 µs (raw BullMQ's add of the same job ~25 µs), and
 * under ingest load Redis is the first to saturate (docs/PERFORMANCE.md).
 */
export const MAX_TRANSACTION_ADDS = 64;

/**
 * Group commit: every publish asked for while the event loop handles one batch of I/O is written
 * into `publish-commit` calls of at most {@link MAX_TRANSACTION_ADDS} adds each, flushed right after
 * (setImmediate, no timer), and each caller learns the outcome of its own writes. Under load this
 * turns hundreds of round trips into a handful, which is what lets a publish cost about what a bare
 * BullMQ add costs (ioredis builds a sizeable object per command, and each call is a round trip).
 * A caller's writes always go into one call, however many adds it makes.
 *
 * Each caller is all or nothing: the script checks every key a caller's writes touch before it
 * writes anything, and a caller whose writes would fail is refused whole ({@link CommitRefusedError})
 * while the others of the call are applied. A call Redis refuses as a whole (no connection, out of
 * memory, read-only) rejects every caller in it, with nothing written.
 */
export function createGroupCommit(options: GroupCommitOptions) {
  const maxWeight = options.maxWeight ?? MAX_TRANSACTION_ADDS;
  let pending: Entry[] = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    const flushed = pending;
    pending = [];
    // Redis Cluster: a call must stay in one slot, so each slot group gets calls of its own. On one
    // Redis every entry has the slot '' and this is one Map lookup per publish.
    const bySlot = new Map<string, Entry[]>();
    for (const entry of flushed) {
      const list = bySlot.get(entry.slot);
      if (list) list.push(entry);
      else bySlot.set(entry.slot, [entry]);
    }
    for (const entries of bySlot.values()) commitInCalls(entries);
  }

  /** Entries of one slot group, in calls of at most `maxWeight` adds. */
  function commitInCalls(entries: Entry[]): void {
    let group: Entry[] = [];
    let weight = 0;
    for (const entry of entries) {
      if (group.length > 0 && weight + entry.weight > maxWeight) {
        void commitGroup(group);
        group = [];
        weight = 0;
      }
      group.push(entry);
      weight += entry.weight;
    }
    if (group.length > 0) void commitGroup(group);
  }

  async function commitGroup(group: Entry[]): Promise<void> {
    const commit = new PublishCommit();
    try {
      group.forEach((entry, index) => {
        commit.owner = index;
        entry.write(commit);
      });
      options.beforeExec?.();
    } catch (error) {
      for (const entry of group) entry.reject(error);
      return;
    }
    try {
      const refusals = await commit.run(options.run, group.length);
      group.forEach((entry, index) => {
        const refusal = refusals[index];
        if (refusal) entry.reject(refusalError(refusal));
        else entry.resolve();
      });
    } catch (error) {
      for (const entry of group) entry.reject(error);
    }
  }

  return {
    /**
     * Resolves once `write`'s writes are applied; rejects, with none of them applied, when they
     * would fail or Redis refuses the call. `weight` is how many adds `write` makes, for splitting
     * a flush into calls; it never splits one caller. `slot` names the hash slot (group) every key
     * `write` touches lies in: callers of different slots never share a call, as a Redis Cluster
     * requires. On one Redis leave it at '' (every caller may share).
     */
    commit(write: (commit: PublishCommit) => void, weight = 1, slot = ''): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        pending.push({ write, weight, slot, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}

export type GroupCommit = ReturnType<typeof createGroupCommit>;
