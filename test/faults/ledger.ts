/**
 * The load and the books of a fault run: a publisher at a fixed rate (single and batch, some with
 * idempotency keys, retried by key the way a careful client would), what each queue's receivers got,
 * what Redis still holds, and the verdict: lost, duplicates, errored-but-stored, half-stored.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { createKeys } from '../../queues/redis/index.js';
import type { Receiver } from '../helpers/receiver.js';
import { codeOf, gql } from './client.js';

/** Every publish, by the sequence number its payload carries. */
export interface Publish {
  seq: number;
  batch: boolean;
  key: string | null;
  /** ok: answered with a message id; error: every attempt answered an error; unknown: some attempt got no answer. */
  outcome: 'ok' | 'error' | 'unknown' | 'pending';
  messageId: string | null;
  /** One code per attempt ('NETWORK' for no answer). */
  codes: string[];
  at: number;
}

export interface LoadOptions {
  /** Where to publish, in turn; read on every publish so callers can change it. */
  urls: () => readonly string[];
  topic: string;
  ratePerSecond: number;
  /** Every n-th publish is a publishBatch of `batchSize` messages. */
  batchEvery: number;
  batchSize: number;
  /** Every n-th publish carries an idempotency key (and is retried by it). */
  keyEvery: number;
  /** Publishes in flight at most; beyond it a tick is skipped (and counted). */
  maxInFlight: number;
  /** A keyed publish is retried at most this many times, this far apart. */
  retries?: number;
  retryDelayMs?: number;
  /** Per-request deadline. */
  timeoutMs?: number;
}

export interface Load {
  readonly publishes: Map<number, Publish>;
  /** Ticks skipped because maxInFlight publishes were already waiting. */
  readonly skipped: number;
  /** Stops publishing and waits for the publishes in flight (their retries included). */
  stop(): Promise<void>;
}

const RETRYABLE = new Set(['NETWORK', 'OUTCOME_UNKNOWN', 'UNAVAILABLE', 'CONFLICT', 'TIMEOUT']);

export function startLoad(runId: string, options: LoadOptions): Load {
  const publishes = new Map<number, Publish>();
  const pending = new Set<Promise<void>>();
  let seq = 0;
  let turn = 0;
  let skipped = 0;
  let stopped = false;
  const retries = options.retries ?? 6;
  const retryDelayMs = options.retryDelayMs ?? 300;
  const timeoutMs = options.timeoutMs ?? 10_000;

  const nextUrl = () => {
    const urls = options.urls();
    return urls[turn++ % urls.length] ?? '';
  };

  async function send(entries: Publish[]): Promise<void> {
    const batch = entries.length > 1 || (entries[0]?.batch ?? false);
    const inputs = entries.map((entry) => ({
      topic: options.topic,
      payload: { run: runId, seq: entry.seq },
      ...(entry.key ? { idempotencyKey: entry.key } : {}),
    }));
    const keyed = entries.some((entry) => entry.key !== null);
    for (let attempt = 0; ; attempt++) {
      const answer = batch
        ? await gql(
            nextUrl(),
            'mutation ($inputs: [PublishInput!]!) { publishBatch(inputs: $inputs) { messageId duplicate } }',
            { inputs },
            timeoutMs,
          )
        : await gql(
            nextUrl(),
            'mutation ($input: PublishInput!) { publish(input: $input) { messageId duplicate } }',
            { input: inputs[0] },
            timeoutMs,
          );
      const code = codeOf(answer);
      for (const entry of entries) entry.codes.push(code ?? 'OK');
      if (code === null && answer.kind === 'answer') {
        const results = (batch ? answer.data?.publishBatch : [answer.data?.publish]) as
          | Array<{ messageId: string }>
          | undefined;
        entries.forEach((entry, index) => {
          entry.outcome = 'ok';
          entry.messageId = results?.[index]?.messageId ?? null;
        });
        return;
      }
      const last = !keyed || !RETRYABLE.has(code ?? '') || attempt >= retries;
      if (last) {
        const unknown = entries.some(
          (entry) => entry.codes.includes('NETWORK') || entry.codes.includes('OUTCOME_UNKNOWN'),
        );
        for (const entry of entries) entry.outcome = unknown ? 'unknown' : 'error';
        return;
      }
      await sleep(retryDelayMs);
    }
  }

  const tick = () => {
    if (stopped) return;
    if (pending.size >= options.maxInFlight) {
      skipped++;
      return;
    }
    const n = seq;
    const batch = n % options.batchEvery === options.batchEvery - 1;
    const count = batch ? options.batchSize : 1;
    const entries: Publish[] = [];
    for (let i = 0; i < count; i++) {
      const entry: Publish = {
        seq: seq++,
        batch,
        key: n % options.keyEvery === 0 ? `${runId}-k${n}-${i}` : null,
        outcome: 'pending',
        messageId: null,
        codes: [],
        at: Date.now(),
      };
      publishes.set(entry.seq, entry);
      entries.push(entry);
    }
    const work = send(entries).finally(() => pending.delete(work));
    pending.add(work);
  };
  const timer = setInterval(tick, Math.max(1, Math.round(1000 / options.ratePerSecond)));
  return {
    publishes,
    get skipped() {
      return skipped;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.allSettled([...pending]);
    },
  };
}

/** A delivery seen by a queue's receivers: message id and payload sequence number. */
export interface Seen {
  messageId: string;
  seq: number;
}

/** What a webhook receiver got, as (message id, seq) pairs, one per request. */
export function webhookSeen(receiver: Receiver, runId: string): Seen[] {
  const seen: Seen[] = [];
  for (const request of receiver.requests) {
    try {
      const body = JSON.parse(request.body) as { id: string; payload: { run?: string; seq?: number } };
      if (body.payload.run === runId && typeof body.payload.seq === 'number') {
        seen.push({ messageId: body.id, seq: body.payload.seq });
      }
    } catch {
      // Not one of ours.
    }
  }
  return seen;
}

/** Reads a queue's BullMQ lists straight from Redis. */
export function queueState(redis: Redis, prefix: string, topic: string, queue: string) {
  const base = `${createKeys(prefix).bullPrefix(topic)}:${queue}`;
  return {
    base,
    /** Message ids of the queue's dead letters (BullMQ failed set). */
    deadIds: async () => new Set(await redis.zrange(`${base}:failed`, 0, -1)),
    /** Message ids held by workers or consumers right now. */
    activeIds: () => redis.lrange(`${base}:active`, 0, -1),
    /** True once the job is finished (removed on completion, or failed for good). */
    async finished(id: string): Promise<boolean> {
      const [exists, failed] = await Promise.all([
        redis.exists(`${base}:${id}`),
        redis.zscore(`${base}:failed`, id),
      ]);
      return exists === 0 || failed !== null;
    },
    /** Messages not yet finished: waiting, prioritized, delayed, active, paused. */
    async backlog(): Promise<number> {
      const [wait, active, paused, prioritized, delayed] = await Promise.all([
        redis.llen(`${base}:wait`),
        redis.llen(`${base}:active`),
        redis.llen(`${base}:paused`),
        redis.zcard(`${base}:prioritized`),
        redis.zcard(`${base}:delayed`),
      ]);
      return wait + active + paused + prioritized + delayed;
    },
  };
}

export type QueueState = ReturnType<typeof queueState>;

export interface QueueVerdict {
  queue: string;
  /** Acknowledged publishes neither delivered nor dead-lettered. */
  lost: number;
  lostSeqs: number[];
  delivered: number;
  deadLettered: number;
  /** Deliveries beyond the first of each message. */
  duplicates: number;
}

export interface Verdict {
  published: { ok: number; error: number; unknown: number; keyed: number; batched: number };
  queues: QueueVerdict[];
  /** Publishes that every attempt answered with an error, yet some queue got. */
  erroredButStored: number[];
  /** What each attempt of the first few of them was answered (error codes, in order). */
  erroredButStoredCodes: string[][];
  /** Publishes some queue got and another never did (a half-applied fan-out). */
  halfStored: number[];
  /**
   * Publishes a queue got under two message ids: stored twice (a keyed publish retried after a lost
   * answer must find its first message, never make a second).
   */
  doubleStored: number[];
}

/** Counts what each queue got against what was acknowledged. */
export function verdict(
  publishes: Map<number, Publish>,
  queues: Array<{ queue: string; seen: Seen[]; dead: Set<string> }>,
): Verdict {
  const all = [...publishes.values()];
  const seqsIn = queues.map(({ seen, dead }) => {
    const seqs = new Set(seen.map((entry) => entry.seq));
    for (const publish of all) if (publish.messageId && dead.has(publish.messageId)) seqs.add(publish.seq);
    return seqs;
  });
  const verdicts = queues.map(({ queue, seen, dead }): QueueVerdict => {
    const counts = new Map<string, number>();
    for (const entry of seen) counts.set(entry.messageId, (counts.get(entry.messageId) ?? 0) + 1);
    let duplicates = 0;
    for (const count of counts.values()) duplicates += count - 1;
    const lostSeqs = all
      .filter((p) => p.outcome === 'ok' && p.messageId && !counts.has(p.messageId) && !dead.has(p.messageId))
      .map((p) => p.seq);
    return {
      queue,
      lost: lostSeqs.length,
      lostSeqs: lostSeqs.slice(0, 20),
      delivered: counts.size,
      deadLettered: dead.size,
      duplicates,
    };
  });
  const stored = (seq: number) => seqsIn.filter((seqs) => seqs.has(seq)).length;
  return {
    published: {
      ok: all.filter((p) => p.outcome === 'ok').length,
      error: all.filter((p) => p.outcome === 'error').length,
      unknown: all.filter((p) => p.outcome === 'unknown').length,
      keyed: all.filter((p) => p.key !== null).length,
      batched: all.filter((p) => p.batch).length,
    },
    queues: verdicts,
    erroredButStored: all.filter((p) => p.outcome === 'error' && stored(p.seq) > 0).map((p) => p.seq),
    erroredButStoredCodes: all
      .filter((p) => p.outcome === 'error' && stored(p.seq) > 0)
      .slice(0, 5)
      .map((p) => p.codes),
    halfStored: all.filter((p) => stored(p.seq) > 0 && stored(p.seq) < queues.length).map((p) => p.seq),
    doubleStored: [...new Set(queues.flatMap(({ seen }) => doubledSeqs(seen)))],
  };
}

function doubledSeqs(seen: Seen[]): number[] {
  const ids = new Map<number, Set<string>>();
  for (const entry of seen) {
    const set = ids.get(entry.seq) ?? new Set<string>();
    set.add(entry.messageId);
    ids.set(entry.seq, set);
  }
  return [...ids].filter(([seq, set]) => seq >= 0 && set.size > 1).map(([seq]) => seq);
}

/**
 * Polls until every acknowledged publish is delivered or dead-lettered in every queue and the queues
 * hold nothing more (so that what an unanswered publish stored has arrived too), or the deadline.
 */
export async function waitUntilSettled(
  check: () => Promise<Verdict>,
  queues: readonly QueueState[],
  timeoutMs: number,
): Promise<{ verdict: Verdict; ms: number }> {
  const started = Date.now();
  for (;;) {
    const current = await check();
    const lost = current.queues.reduce((sum, queue) => sum + queue.lost, 0);
    const backlog =
      lost === 0 ? await Promise.all(queues.map((queue) => queue.backlog().catch(() => 1))) : [1];
    const drained = backlog.every((count) => count === 0);
    // Drained queues mean every delivery was made; the last acks may still be on their way.
    if (drained) await sleep(300);
    if (drained || Date.now() - started > timeoutMs)
      return { verdict: await check(), ms: Date.now() - started };
    await sleep(250);
  }
}

/**
 * After a fault, how long until every delivery held at that moment is finished (BullMQ's stalled-job
 * check brings back what a dead process held). Polls in the background; answers ms, or null on timeout.
 */
export async function recoveryTime(
  held: Array<{ state: QueueState; ids: string[] }>,
  since: number,
  timeoutMs: number,
): Promise<number | null> {
  const remaining = held.flatMap(({ state, ids }) => ids.map((id) => ({ state, id })));
  const deadline = since + timeoutMs;
  while (remaining.length > 0) {
    if (Date.now() > deadline) return null;
    for (let i = remaining.length - 1; i >= 0; i--) {
      const entry = remaining[i];
      if (!entry) continue;
      const done = await entry.state.finished(entry.id).catch(() => false);
      if (done) remaining.splice(i, 1);
    }
    if (remaining.length > 0) await sleep(200);
  }
  return Date.now() - since;
}
