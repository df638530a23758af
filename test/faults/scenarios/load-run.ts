/**
 * A fault under load: two gateways on one Redis, a publisher at a fixed rate through both, consumers
 * on both, and a fault injected at seeded random moments (a gateway SIGKILLed and restarted, Redis
 * SIGKILLed and restarted from its AOF). Then the books: lost, duplicates, in flight, recovery.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Consumer, startReceiveConsumer, startWebSocketConsumer } from '../client.js';
import { type Fixture, HOOK_QUEUE, seededRandom, startFixture, TOPIC, WORK_QUEUE } from '../fixture.js';
import { recoveryTime, startLoad, type Verdict, verdict, waitUntilSettled, webhookSeen } from '../ledger.js';

export interface LoadRunOptions {
  /** What the fault does; it answers once the broken part is back (restarted). */
  inject: (fixture: Fixture) => Promise<void>;
  faults: number;
  /** Publishes per second (a batch counts once). */
  ratePerSecond: number;
  /** Random pause before each kill, between these bounds. */
  minGapMs: number;
  maxGapMs: number;
  seed?: number;
  /**
   * How long the webhook receiver takes to answer, so that a fault finds deliveries under way.
   * @default 200
   */
  receiverDelayMs?: number;
  /** How long to wait for every acknowledged message after the load stops. */
  settleTimeoutMs: number;
}

export interface FaultFigure {
  fault: number;
  atMs: number;
  /** Deliveries held (BullMQ active, both queues, every instance) at the kill: the bound on duplicates. */
  inFlight: number;
  /** The same, per queue: webhook deliveries under way, consumer deliveries not yet acked. */
  webhookInFlight: number;
  consumerInFlight: number;
  /** Duplicates of messages held at this kill. */
  duplicates: number;
  /** Acknowledged messages published since this kill (until the next) that were lost. */
  lost: number;
  /** Until every delivery held at the kill was finished (null: not within the settle timeout). */
  recoveryMs: number | null;
  /** The same, per queue (webhook: BullMQ's default lock and stalled check; consumer: ackTimeoutMs). */
  webhookRecoveryMs: number | null;
  consumerRecoveryMs: number | null;
  /** Until the broken part was back (a gateway answering /health 200, Redis answering PING). */
  restartMs: number;
}

export interface LoadRunResult {
  seed: number;
  faults: FaultFigure[];
  verdict: Verdict;
  settleMs: number;
  totalInFlight: number;
  /** Duplicates over all queues. */
  duplicates: number;
  lost: number;
  skippedTicks: number;
  seconds: number;
}

export async function runUnderLoad(options: LoadRunOptions): Promise<LoadRunResult> {
  const seed = options.seed ?? Date.now() % 2 ** 31;
  const random = seededRandom(seed);
  const started = Date.now();
  const fixture = await startFixture({ gateways: 2 });
  const consumers: Consumer[] = [];
  try {
    const [a, b] = fixture.gateways;
    if (!a || !b) throw new Error('two gateways expected');
    const runId = randomUUID();
    const urls = [a.url, b.url];
    consumers.push(
      startWebSocketConsumer({
        wsUrl: a.url.replace('http', 'ws'),
        ackUrls: urls,
        topic: TOPIC,
        queue: WORK_QUEUE,
        prefetch: 8,
      }),
      startWebSocketConsumer({
        wsUrl: b.url.replace('http', 'ws'),
        ackUrls: [b.url, a.url],
        topic: TOPIC,
        queue: WORK_QUEUE,
        prefetch: 8,
      }),
      startReceiveConsumer({ urls: [b.url, a.url], topic: TOPIC, queue: WORK_QUEUE, max: 5, waitMs: 500 }),
    );
    const load = startLoad(runId, {
      urls: () => urls,
      topic: TOPIC,
      ratePerSecond: options.ratePerSecond,
      batchEvery: 4,
      batchSize: 3,
      keyEvery: 3,
      maxInFlight: 64,
    });
    // A receiver that takes a moment, so that every fault finds webhook deliveries under way.
    fixture.receiver.respond = () => ({ status: 204, delayMs: options.receiverDelayMs ?? 200 });
    const loadStarted = Date.now();
    const kills: Array<FaultFigure & { hookHeld: string[]; workHeld: string[]; at: number }> = [];
    const recoveries: Array<Promise<Array<number | null>>> = [];
    await sleep(1_500);
    for (let k = 0; k < options.faults; k++) {
      await sleep(options.minGapMs + random() * (options.maxGapMs - options.minGapMs));
      const [hookHeld, workHeld] = await Promise.all([fixture.hook.activeIds(), fixture.work.activeIds()]);
      const at = Date.now();
      const restarted = options.inject(fixture);
      const within = options.settleTimeoutMs + 60_000;
      recoveries.push(
        Promise.all([
          recoveryTime([{ state: fixture.hook, ids: hookHeld }], at, within),
          recoveryTime([{ state: fixture.work, ids: workHeld }], at, within),
        ]),
      );
      await restarted;
      kills.push({
        fault: k + 1,
        at,
        atMs: at - loadStarted,
        hookHeld,
        workHeld,
        inFlight: hookHeld.length + workHeld.length,
        webhookInFlight: hookHeld.length,
        consumerInFlight: workHeld.length,
        webhookRecoveryMs: null,
        consumerRecoveryMs: null,
        duplicates: 0,
        lost: 0,
        recoveryMs: null,
        restartMs: Date.now() - at,
      });
    }
    await sleep(1_500);
    await load.stop();

    const check = async () =>
      verdict(load.publishes, [
        { queue: HOOK_QUEUE, seen: webhookSeen(fixture.receiver, runId), dead: await fixture.hook.deadIds() },
        {
          queue: WORK_QUEUE,
          seen: consumers.flatMap((consumer) => consumer.got),
          dead: await fixture.work.deadIds(),
        },
      ]);
    const settled = await waitUntilSettled(check, [fixture.hook, fixture.work], options.settleTimeoutMs);
    const recoveryMs = await Promise.all(recoveries);
    // Late duplicates (a stalled delivery that was in fact done) would come within a stalled check.
    await sleep(1_000);
    for (const consumer of consumers) await consumer.stop();
    const finalGot = consumers.flatMap((consumer) => consumer.got);
    const final = await check();

    // Attribute duplicates to the kill that held the message, lost messages to the kill before their publish.
    const count = (ids: string[]) => {
      const counts = new Map<string, number>();
      for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
      return counts;
    };
    const hookCounts = count(webhookSeen(fixture.receiver, runId).map((entry) => entry.messageId));
    const workCounts = count(finalGot.map((entry) => entry.messageId));
    // A delivery still held (stalled) at a later kill counts for the first kill that held it.
    const counted = new Set<string>();
    const attribute = (kill: FaultFigure, queue: string, ids: string[], counts: Map<string, number>) => {
      for (const id of ids) {
        if (counted.has(`${queue}:${id}`)) continue;
        counted.add(`${queue}:${id}`);
        kill.duplicates += Math.max(0, (counts.get(id) ?? 0) - 1);
      }
    };
    for (const kill of kills) {
      attribute(kill, HOOK_QUEUE, kill.hookHeld, hookCounts);
      attribute(kill, WORK_QUEUE, kill.workHeld, workCounts);
    }
    const lostSeqs = final.queues.flatMap((queue) => queue.lostSeqs);
    for (const seq of lostSeqs) {
      const at = load.publishes.get(seq)?.at ?? 0;
      const kill = [...kills].reverse().find((entry) => entry.at <= at) ?? kills[0];
      if (kill) kill.lost++;
    }
    kills.forEach((kill, index) => {
      const [webhook = null, consumer = null] = recoveryMs[index] ?? [];
      kill.webhookRecoveryMs = webhook;
      kill.consumerRecoveryMs = consumer;
      kill.recoveryMs = webhook === null || consumer === null ? null : Math.max(webhook, consumer);
    });
    return {
      seed,
      faults: kills.map(({ hookHeld: _h, workHeld: _w, at: _at, ...figure }) => figure),
      verdict: final,
      settleMs: settled.ms,
      totalInFlight: kills.reduce((sum, kill) => sum + kill.inFlight, 0),
      duplicates: final.queues.reduce((sum, queue) => sum + queue.duplicates, 0),
      lost: final.queues.reduce((sum, queue) => sum + queue.lost, 0),
      skippedTicks: load.skipped,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await Promise.allSettled(consumers.map((consumer) => consumer.stop()));
    await fixture.close();
  }
}
