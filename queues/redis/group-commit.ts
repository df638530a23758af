import type { ChainableCommander } from 'ioredis';
import { JobAdds } from './bull-add.js';

export interface GroupCommitOptions {
  /** Opens the transaction one flush writes into. */
  open(): ChainableCommander;
  /**
   * The most weight (BullMQ adds, as callers declare them) one transaction carries; the callers after
   * it go into the next transaction of the same flush, and a caller heavier than this gets one of its own.
   * @default {@link MAX_TRANSACTION_ADDS}
   */
  maxWeight?: number;
  /** Fault injection for tests: sees the whole transaction just before EXEC. @default none */
  beforeExec?: (transaction: ChainableCommander) => void;
}

/** What a caller writes its commands into. */
export interface Flush {
  /** The flush's transaction, for the caller's own commands. */
  transaction: ChainableCommander;
  /**
   * BullMQ adds: the transaction's adds to one queue go as one command per MAX_ADDS_PER_COMMAND,
   * after the callers' own commands.
   */
  adds: JobAdds;
}

interface Entry {
  write(flush: Flush): void;
  weight: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * How many BullMQ adds one group-commit transaction carries at most. Redis spends more per add in one
 * huge transaction than in several small ones: with AOF on, 256 single publishes in one MULTI cost it
 * ~40 µs of CPU per add, in MULTIs of at most 64 adds ~30 µs (raw BullMQ's add of the same job ~25 µs),
 * and under ingest load Redis is the first to saturate (docs/PERFORMANCE.md).
 */
export const MAX_TRANSACTION_ADDS = 64;

/**
 * Group commit: every transaction asked for while the event loop handles one batch of I/O is written
 * into MULTI … EXEC transactions of at most {@link MAX_TRANSACTION_ADDS} adds each, flushed right after
 * (setImmediate, no timer), and each caller learns the outcome of its own commands. Under load this
 * turns hundreds of transactions into a handful, and their BullMQ adds into one command per queue and
 * transaction, which is what lets a publish cost about what a bare BullMQ add costs (ioredis builds a
 * sizeable object per command and per pipeline, and each EXEC is a round trip); with one caller it is
 * a plain MULTI. A caller's commands always go into one transaction, however many adds it makes.
 *
 * A caller fails when one of its own commands fails or an add command carrying one of its adds does.
 * EXEC applies the whole transaction or, when it aborts, none of it, and then every caller in that
 * transaction gets the error. Commands are only ever well-formed ones built by our code, so one caller
 * cannot make EXEC abort for the others.
 */
export function createGroupCommit(options: GroupCommitOptions) {
  const maxWeight = options.maxWeight ?? MAX_TRANSACTION_ADDS;
  let pending: Entry[] = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    let group: Entry[] = [];
    let weight = 0;
    for (const entry of pending) {
      if (group.length > 0 && weight + entry.weight > maxWeight) {
        void commitGroup(group);
        group = [];
        weight = 0;
      }
      group.push(entry);
      weight += entry.weight;
    }
    pending = [];
    if (group.length > 0) void commitGroup(group);
  }

  async function commitGroup(group: Entry[]): Promise<void> {
    let transaction: ChainableCommander;
    const ranges: [number, number][] = [];
    let addsFrom = 0;
    let addOwners: Set<number>[] = [];
    try {
      transaction = options.open();
      const adds = new JobAdds();
      // The transaction already holds its MULTI, which EXEC's answers leave out: count from here.
      const base = transaction.length;
      group.forEach((entry, index) => {
        const start = transaction.length - base;
        adds.owner = index;
        entry.write({ transaction, adds });
        ranges.push([start, transaction.length - base]);
      });
      addsFrom = transaction.length - base;
      addOwners = adds.write(transaction);
      options.beforeExec?.(transaction);
    } catch (error) {
      for (const entry of group) entry.reject(error);
      return;
    }
    try {
      const answers = await transaction.exec();
      if (!answers) throw new Error('The Redis transaction was aborted');
      const failedAdds = addOwners.flatMap((owners, index) => {
        const error = answers[addsFrom + index]?.[0];
        return error ? [{ owners, error }] : [];
      });
      group.forEach((entry, index) => {
        const [start, end] = ranges[index] as [number, number];
        const failed =
          answers.slice(start, end).find(([error]) => error)?.[0] ??
          failedAdds.find(({ owners }) => owners.has(index))?.error;
        if (failed) entry.reject(failed);
        else entry.resolve();
      });
    } catch (error) {
      for (const entry of group) entry.reject(error);
    }
  }

  return {
    /**
     * Resolves once `write`'s commands are applied. Rejects when EXEC aborts (then none of them are)
     * or when one of its commands or add commands fails as it runs: Redis rolls nothing back, so
     * what ran before the failure stays (see JobAdds). `weight` is how many adds `write` makes,
     * for splitting a flush into transactions; it never splits one caller.
     */
    commit(write: (flush: Flush) => void, weight = 1): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        pending.push({ write, weight, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}

export type GroupCommit = ReturnType<typeof createGroupCommit>;
