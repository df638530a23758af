import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { type ErrorCode, SwitchyardError } from '../../queues/core/errors.js';
import type { AttemptRecord, MessageRecord } from '../../queues/core/types.js';
import { parseAttemptLog } from '../../queues/delivery/attempt-history.js';
import { createEngine, type Engine, type EngineOptions } from '../../queues/engine/engine.js';
import { type Receiver, type ReceiverOptions, startReceiver } from '../helpers/receiver.js';
import {
  startTestRedis,
  type TestRedis,
  uniquePrefix,
  type WaitForOptions,
  waitFor,
} from '../helpers/redis.js';

/**
 * A queue's stats without its lag, for "nothing changed" comparisons: the lag grows by itself while a
 * message waits, and the counts already show whether anything moved.
 */
export async function settledStats(engine: Engine, queue: { topic: string; name: string }) {
  const { oldestWaitingAgeMs: _ages, ...stats } = await engine.queueStats(queue);
  return stats;
}

/** Retry settings that keep a test in milliseconds rather than the production seconds. */
/** A replay task once it is no longer RUNNING (DONE, FAILED or CANCELLED). */
export const replayFinished = (engine: Engine, id: string) =>
  waitFor(
    async () => {
      const task = await engine.replayTask(id);
      return task && task.state !== 'RUNNING' ? task : null;
    },
    { timeoutMs: 15_000 },
  );

export const FAST_RETRY = { backoff: 'FIXED', delayMs: 50, maxDelayMs: 50, jitter: false } as const;

export interface EngineHarness {
  /** This file's redis-server. */
  readonly redis: TestRedis;
  /**
   * An engine on this file's Redis, closed after the test. Each call gets a key prefix of its own
   * unless `keyPrefix` is given (two engines sharing one is how tests model two gateway instances).
   */
  engine(options?: Partial<EngineOptions>): Promise<Engine>;
  /** A loopback webhook receiver, closed after the test. */
  receiver(options?: ReceiverOptions): Promise<Receiver>;
  /** A plain BullMQ `Queue` on a Switchyard queue, to look at its jobs the way any BullMQ tool would. */
  bullQueue(engine: Engine, topic: string, name: string): Queue;
}

/**
 * One redis-server per test file, and per test: engines with unique prefixes, receivers and BullMQ
 * handles that are all closed in afterEach. A background error reported by an engine fails the test
 * that caused it, so worker trouble cannot hide behind a passing assertion.
 */
export function useEngineHarness(): EngineHarness {
  let redis: TestRedis | undefined;
  const engines: Engine[] = [];
  const receivers: Receiver[] = [];
  const queues: Queue[] = [];
  const backgroundErrors: Error[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterEach(async () => {
    const closing = [
      ...engines.splice(0).map((engine) => engine.close()),
      ...queues.splice(0).map((queue) => queue.close()),
    ];
    const results = await Promise.allSettled(closing);
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
    const errors = backgroundErrors.splice(0);
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    expect(errors.map((error) => error.message)).toEqual([]);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const requireRedis = (): TestRedis => {
    if (!redis) throw new Error('the harness Redis is not running; call this inside a test');
    return redis;
  };

  return {
    get redis() {
      return requireRedis();
    },
    async engine(options = {}) {
      const engine = await createEngine({
        redisUrl: requireRedis().url,
        keyPrefix: uniquePrefix(),
        onError: (error) => backgroundErrors.push(error),
        // The receivers listen on loopback, which the SSRF guard refuses by default.
        webhookPolicy: { allowPrivate: true },
        ...options,
      });
      engines.push(engine);
      return engine;
    },
    async receiver(options) {
      const receiver = await startReceiver(options);
      receivers.push(receiver);
      return receiver;
    },
    bullQueue(engine, topic, name) {
      const queue = new Queue(name, {
        connection: requireRedis().client(),
        prefix: engine.keys.bullPrefix(topic),
      });
      queues.push(queue);
      return queue;
    },
  };
}

/** Awaits a refusal and checks its stable code (and, when given, that the message says why). */
export async function expectRefusal(
  promise: Promise<unknown>,
  code: ErrorCode,
  message?: RegExp,
): Promise<SwitchyardError> {
  const error = await promise.then(
    () => null,
    (reason: unknown) => reason,
  );
  expect(error, `expected a ${code} refusal`).toBeInstanceOf(SwitchyardError);
  const refusal = error as SwitchyardError;
  expect(refusal.code).toBe(code);
  if (message) expect(refusal.message).toMatch(message);
  return refusal;
}

export interface DeadLetter {
  id: string;
  message: MessageRecord;
  failedReason: string;
  attemptsMade: number;
  history: AttemptRecord[];
}

/** The failed set of a queue, each job with its attempt history read back from its BullMQ log. */
export async function deadLetters(queue: Queue): Promise<DeadLetter[]> {
  const jobs = await queue.getFailed();
  return Promise.all(
    jobs.map(async (job) => {
      const { logs } = await queue.getJobLogs(job.id ?? '');
      return {
        id: job.id ?? '',
        message: job.data as MessageRecord,
        failedReason: job.failedReason,
        attemptsMade: job.attemptsMade,
        history: parseAttemptLog(logs),
      };
    }),
  );
}

/** The gaps in ms between consecutive timestamps. */
export const gaps = (times: number[]): number[] =>
  times.slice(1).map((time, index) => time - (times[index] ?? 0));

type Absent = null | undefined | false;

/** waitFor for a value: resolves with the first present value `fn` answers, typed without the absence. */
export async function eventually<T>(
  fn: () => T | Absent | Promise<T | Absent>,
  options?: WaitForOptions,
): Promise<T> {
  const value = await waitFor(fn, options);
  if (value === null || value === undefined || value === false) throw new Error('waitFor answered no value');
  return value;
}

/** Waits for the queue's first dead letter. */
export function firstDeadLetter(queue: Queue, options?: WaitForOptions): Promise<DeadLetter> {
  return eventually(() => deadLetters(queue).then(([first]) => first), {
    message: `no dead letter appeared in ${queue.name}`,
    ...options,
  });
}
