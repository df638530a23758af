/**
 * The open-files limit of the subscribers bench: every websocket costs a file descriptor in the
 * gateway AND one in the client process holding it, so 10,000 subscribers need 10,000 in the gateway
 * alone, far above the usual soft limit of 1,024. The bench raises its own soft limit up to the hard
 * limit before it forks anything (children inherit it); it never asks the user to, and says plainly
 * when the hard limit itself is too low, which only root can raise. Node raises its own soft limit to
 * the hard one as it starts, so under node the hard limit is what counts; the bench checks and raises
 * anyway, so that it holds wherever that is not so.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Descriptors a process needs besides its sockets: node itself, Redis connections, IPC, files. */
export const FD_MARGIN = 256;

/** Set in the environment of the bench when it re-ran itself under `ulimit -n`, so it does so once. */
const REEXEC_MARK = 'SWITCHYARD_BENCH_FD_RAISED';

export interface OpenFileLimits {
  soft: number;
  hard: number;
}

export interface RaisedLimits extends OpenFileLimits {
  /** The soft limit before the bench raised it; null when it was high enough already. */
  raisedFrom: number | null;
  how: 'unchanged' | 'prlimit' | 'ulimit -n (re-run)';
}

/** This process's open-files limits, from /proc/self/limits ("unlimited" reads as Infinity). */
export function openFileLimits(): OpenFileLimits {
  const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const read = (value: string | undefined) => (value === 'unlimited' ? Infinity : Number(value));
  return { soft: read(line?.[1]), hard: read(line?.[2]) };
}

/**
 * Makes sure this process (and what it forks from now on) may open `needed` files: raises the soft
 * limit to the hard one with `prlimit --pid` on itself, or, without prlimit, re-runs the bench under
 * `sh -c 'ulimit -n …'` and exits with its code (answering null). Throws, saying what to do, when the
 * hard limit is below `needed`.
 */
export function raiseOpenFiles(needed: number, what: string): RaisedLimits | null {
  const before = openFileLimits();
  const rerunFrom = process.env[REEXEC_MARK];
  if (before.soft >= needed && rerunFrom) {
    return { ...before, raisedFrom: Number(rerunFrom), how: 'ulimit -n (re-run)' };
  }
  if (before.soft >= needed) return { ...before, raisedFrom: null, how: 'unchanged' };
  if (before.hard < needed) {
    throw new Error(
      `${what} needs ${needed} open files in one process, but this shell's hard limit is ${before.hard} ` +
        `(ulimit -Hn), which only root can raise (e.g. \`prlimit --pid $$ --nofile=${needed}:${needed}\` as root, ` +
        `or nofile in /etc/security/limits.conf). Run fewer subscribers: at most about ${before.hard - FD_MARGIN}.`,
    );
  }
  const target = Number.isFinite(before.hard) ? before.hard : needed;
  // Soft limit only ("N:"), so the hard limit is never lowered.
  spawnSync('prlimit', [`--pid=${process.pid}`, `--nofile=${target}:`], { stdio: 'ignore' });
  const after = openFileLimits();
  if (after.soft >= needed) return { ...after, raisedFrom: before.soft, how: 'prlimit' };
  if (rerunFrom) throw new Error(`could not raise the open-files limit to ${needed}`);
  const rerun = spawnSync(
    '/bin/sh',
    [
      '-c',
      'ulimit -n "$1" && shift && exec "$@"',
      'sh',
      String(target),
      process.execPath,
      ...process.execArgv,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, [REEXEC_MARK]: String(before.soft) } },
  );
  process.exitCode = rerun.status ?? 1;
  return null;
}
