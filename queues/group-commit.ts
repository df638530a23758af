import type { ChainableCommander } from 'ioredis';

export interface GroupCommitOptions {
  /** Opens the transaction one flush writes into. */
  open(): ChainableCommander;
  /** Fault injection for tests: sees the whole transaction just before EXEC. @default none */
  beforeExec?: (transaction: ChainableCommander) => void;
}

interface Entry {
  write(transaction: ChainableCommander): void;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Group commit: every transaction asked for while the event loop handles one batch of I/O is written
 * into a single MULTI … EXEC, flushed right after (setImmediate, no timer), and each caller learns
 * the outcome of its own commands. Under load this turns hundreds of transactions into a handful,
 * which is what lets a publish cost about what a bare BullMQ add costs (ioredis builds a sizeable
 * object per pipeline, and each EXEC is a round trip); with one caller it is a plain MULTI.
 *
 * Each caller's commands stay all-or-nothing: EXEC applies the whole group or, when it aborts, none
 * of it, and then every caller in the group gets the error. Commands are only ever well-formed ones
 * built by our code, so one caller cannot make EXEC abort for the others.
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
    try {
      transaction = options.open();
      // The transaction already holds its MULTI, which EXEC's answers leave out: count from here.
      const base = transaction.length;
      for (const entry of group) {
        const start = transaction.length - base;
        entry.write(transaction);
        ranges.push([start, transaction.length - base]);
      }
      options.beforeExec?.(transaction);
    } catch (error) {
      for (const entry of group) entry.reject(error);
      return;
    }
    try {
      const answers = await transaction.exec();
      if (!answers) throw new Error('The Redis transaction was aborted');
      group.forEach((entry, index) => {
        const [start, end] = ranges[index] as [number, number];
        const failed = answers.slice(start, end).find(([error]) => error);
        if (failed) entry.reject(failed[0]);
        else entry.resolve();
      });
    } catch (error) {
      for (const entry of group) entry.reject(error);
    }
  }

  return {
    /** Resolves once `write`'s commands are applied, or rejects and none of them are. */
    commit(write: (transaction: ChainableCommander) => void): Promise<void> {
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
