import { type Job, Worker } from 'bullmq';

/**
 * A BullMQ Worker that can stop while staying visible until every job it took is settled in Redis.
 *
 * Why: another instance deleting the queue waits for `Queue.getWorkers()` (CLIENT LIST, matched on
 * the name of each worker's blocking connection) to be empty before it obliterates the queue's keys.
 * BullMQ's own `close()` and `pause()` disconnect that connection first and only then wait for the
 * jobs under way, so a worker would vanish from the list while it can still write the job it is
 * finishing ("Missing key ... moveToFinished" once the keys are gone). `stopAndClose()` stops fetching
 * with `pause(true)`, which leaves the connection up, waits until the last job it took has been moved
 * to completed or failed (BullMQ's processJob includes that move), and closes only then.
 */
export class SettlingWorker<T> extends Worker<T> {
  /** Jobs taken (moved to active) and not yet handed to processJob. */
  private readonly taken = new Set<Job<T>>();
  /** processJob calls under way. */
  private processing = 0;
  private readonly whenSettled: Array<() => void> = [];

  protected override async moveToActive(...args: Parameters<Worker<T>['moveToActive']>): Promise<Job<T>> {
    const job = await super.moveToActive(...args);
    if (job) this.taken.add(job);
    return job;
  }

  override async processJob(
    ...args: Parameters<Worker<T>['processJob']>
  ): ReturnType<Worker<T>['processJob']> {
    this.taken.delete(args[0]);
    this.processing++;
    try {
      const next = await super.processJob(...args);
      // A finish that fetched the next job hands it straight to processJob: under way too.
      if (next) this.taken.add(next);
      return next;
    } finally {
      this.processing--;
      if (this.isSettled()) for (const resolve of this.whenSettled.splice(0)) resolve();
    }
  }

  /** Takes no new job, waits until the jobs it took are settled in Redis, then closes. Idempotent. */
  async stopAndClose(): Promise<void> {
    await this.pause(true);
    if (!this.isSettled()) {
      // BullMQ's main loop ends once a paused worker has nothing under way: a backstop, should a job
      // ever be taken by a path this count does not see.
      const loopEnded = (this.mainLoopRunning ?? Promise.resolve()).catch(() => {});
      await Promise.race([new Promise<void>((resolve) => this.whenSettled.push(resolve)), loopEnded]);
    }
    await this.waitUntilReady().catch(() => {});
    await this.close();
  }

  private isSettled(): boolean {
    return this.processing === 0 && this.taken.size === 0;
  }
}
