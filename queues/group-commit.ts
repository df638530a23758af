import type { ChainableCommander } from 'ioredis';
import { JobAdds } from './bull-add.js';

export interface GroupCommitOptions {
  /** Opens the transaction one flush writes into. */
  open(): ChainableCommander;
  /** Fault injection for tests: sees the whole transaction just before EXEC. @default none */
  beforeExec?: (transaction: ChainableCommander) => void;
}

/** What a caller writes its commands into. */
export interface Flush {
  /** The flush's transaction, for the caller's own commands. */
  transaction: ChainableCommander;
  /** BullMQ adds: every caller's adds to one queue go as one command, after the callers' own. */
  adds: JobAdds;
}

interface Entry {
  write(flush: Flush): void;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Group commit: every transaction asked for while the event loop handles one batch of I/O is written
 * into a single MULTI … EXEC, flushed right after (setImmediate, no timer), and each caller learns
 * the outcome of its own commands. Under load this turns hundreds of transactions into a handful,
 * and hundreds of BullMQ adds into one command per queue, which is what lets a publish cost about
 * what a bare BullMQ add costs (ioredis builds a sizeable object per command and per pipeline, and
 * each EXEC is a round trip); with one caller it is a plain MULTI.
 *
 * A caller fails when one of its own commands fails or an add command carrying one of its adds does.
 * EXEC applies the whole group or, when it aborts, none of it, and then every caller in the group gets
 * the error. Commands are only ever well-formed ones built by our code, so one caller cannot make EXEC
 * abort for the others.
 */
export function createGroupCommit(options: GroupCommitOptions) {
  let pending: Entry[] = [];
  let scheduled = false;

  async function flush(): Promise<void> {
    scheduled = false;
    const group = pending;
    pending = [];
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
     * what ran before the failure stays (see JobAdds).
     */
    commit(write: (flush: Flush) => void): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        pending.push({ write, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(() => void flush());
        }
      });
    },
  };
}

export type GroupCommit = ReturnType<typeof createGroupCommit>;
