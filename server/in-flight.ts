/**
 * Counts work that has started and not finished (HTTP requests, websocket executions), so that a
 * graceful shutdown can wait for exactly that work and no longer.
 */
export function createInFlight() {
  let active = 0;
  let waiters: Array<() => void> = [];

  const finish = () => {
    active--;
    if (active > 0) return;
    const resolved = waiters;
    waiters = [];
    for (const resolve of resolved) resolve();
  };

  return {
    /** Marks one piece of work started; call the returned function exactly once when it ends. */
    begin(): () => void {
      active++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        finish();
      };
    },
    /** Counts `work` until it settles and hands it back untouched. */
    track<T>(work: T | PromiseLike<T>): T | Promise<T> {
      if (!isPromiseLike(work)) return work;
      const end = this.begin();
      return Promise.resolve(work).finally(end);
    },
    get size() {
      return active;
    },
    /** Resolves as soon as nothing is in flight (at once when nothing is). */
    idle(): Promise<void> {
      if (active === 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

export type InFlight = ReturnType<typeof createInFlight>;

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && 'then' in value && typeof value.then === 'function';
}
