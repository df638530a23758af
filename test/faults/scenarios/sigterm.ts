/**
 * Fault 6: SIGTERM under load. Gateway A of two drains: new requests get 503 with Retry-After, its
 * websockets close with 1001, webhook deliveries under way finish (slow receiver), unacked `consume`
 * deliveries go back at once, and it exits 0. With `secondSignal`, a SIGINT follows the SIGTERM while
 * deliveries hang: the process must end within a second, and what it held must come again.
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  codeOf,
  gql,
  gqlOk,
  type RawAnswer,
  startKeptAliveExchange,
  startReceiveConsumer,
  startWebSocketConsumer,
} from '../client.js';
import { HOOK_QUEUE, startFixture, TOPIC, WORK_QUEUE } from '../fixture.js';
import { recoveryTime, startLoad, type Verdict, verdict, waitUntilSettled, webhookSeen } from '../ledger.js';
import type { Exit } from '../processes.js';

export interface SigtermOptions {
  /** Send SIGINT this long after the SIGTERM (null: only SIGTERM). */
  secondSignalAfterMs: number | null;
  /** How long the receiver takes to answer each delivery while A drains. */
  receiverDelayMs: number;
  /** SWITCHYARD_SHUTDOWN_TIMEOUT_MS of the gateways. */
  graceMs: number;
  consumerAckTimeoutMs: number;
  settleTimeoutMs: number;
}

export interface SigtermResult {
  exit: Exit;
  /** From SIGTERM (or the second signal) to the exit. */
  exitMs: number;
  exitAfterSecondSignalMs: number | null;
  /** Answers A gave while draining: `status code retry-after` -> count (new connections are refused). */
  drainAnswers: Record<string, number>;
  /**
   * A kept-alive connection with a long poll in flight at the SIGTERM: the poll's answer, then the
   * answer to the next request on that connection (null: the connection was closed instead).
   */
  keptAlive: {
    first: number | null;
    second: { status: number; code: string | null; retryAfter: string | null } | null;
  };
  /** Until every webhook delivery under way at the SIGTERM was finished (null: not in the settle time). */
  webhookRecoveryMs: number | null;
  /** Close codes A's websocket subscriber saw, and when the first came after the SIGTERM. */
  websocketCloses: number[];
  websocketClosedMs: number | null;
  /**
   * Webhook POSTs A started (reached the receiver, told apart from B's by the connection's port) in
   * all, and those that started after A began draining: ms after its "Shutting down" log line.
   */
  webhookStartsByA: number;
  webhookStartsByAAfterTerm: number[];
  /**
   * From the answer to the last POST A started before its drain (its start plus the receiver's delay)
   * to its exit: what the exit waited for beyond the deliveries under way (null: A started none).
   */
  exitAfterHeldAnsweredMs: number | null;
  /** Webhook deliveries under way at the SIGTERM (either instance), and how many of them came twice. */
  webhookInFlight: number;
  webhookInFlightRedelivered: number;
  /** Unacked deliveries A's subscriber held, and how long until another consumer had them all. */
  consumerHeld: number;
  handBackMs: number | null;
  /** When each held delivery reached another consumer, ms after the SIGTERM; the queue's backlog then. */
  handBackEach: Array<number | null>;
  workBacklogAtTerm: number;
  verdict: Verdict;
  lost: number;
  seconds: number;
}

export async function runSigterm(options: SigtermOptions): Promise<SigtermResult> {
  const started = Date.now();
  const fixture = await startFixture({
    gateways: 2,
    env: { SWITCHYARD_SHUTDOWN_TIMEOUT_MS: String(options.graceMs) },
    consumerAckTimeoutMs: options.consumerAckTimeoutMs,
  });
  const [a, b] = fixture.gateways;
  if (!a || !b) throw new Error('two gateways expected');
  const runId = randomUUID();
  const holder = startWebSocketConsumer({
    wsUrl: a.url.replace('http', 'ws'),
    ackUrls: [a.url],
    topic: TOPIC,
    queue: WORK_QUEUE,
    prefetch: 5,
  });
  holder.setAcking(false);
  const other = startWebSocketConsumer({
    wsUrl: b.url.replace('http', 'ws'),
    ackUrls: [b.url],
    topic: TOPIC,
    queue: WORK_QUEUE,
    prefetch: 8,
  });
  const puller = startReceiveConsumer({
    urls: [b.url],
    topic: TOPIC,
    queue: WORK_QUEUE,
    max: 5,
    waitMs: 300,
  });
  let aUp = true;
  const load = startLoad(runId, {
    urls: () => (aUp ? [a.url, b.url] : [b.url]),
    topic: TOPIC,
    ratePerSecond: 20,
    batchEvery: 4,
    batchSize: 3,
    keyEvery: 3,
    maxInFlight: 64,
  });
  try {
    // An empty queue of its own, for a long poll that is in flight when the drain begins.
    await gqlOk(a.url, 'mutation { createTopic(input: { name: "idle", kind: FANOUT }) { name } }');
    await gqlOk(
      a.url,
      'mutation { createQueue(input: { topic: "idle", name: "poll", target: CONSUMER }) { name } }',
    );
    fixture.receiver.respond = () => ({ status: 204, delayMs: options.receiverDelayMs });
    const receiverPort = Number(new URL(fixture.receiver.url).port);
    const watchedFrom = Date.now();
    const aPorts = watchTcpPorts(a.pid, receiverPort);
    await sleep(3_000);
    const held = holder.got.filter((delivery) => !delivery.acked).map((delivery) => delivery.messageId);
    const hookInFlight = await fixture.hook.activeIds();
    const workBacklog = await fixture.work.backlog();
    const seenBefore = new Map<string, number>();
    for (const entry of webhookSeen(fixture.receiver, runId)) {
      seenBefore.set(entry.messageId, (seenBefore.get(entry.messageId) ?? 0) + 1);
    }

    const exchange = await startKeptAliveExchange(
      a.url,
      'mutation { receive(topic: "idle", queue: "poll", waitMs: 2500) { id } }',
      `mutation { publish(input: { topic: "${TOPIC}", payload: { probe: "late" } }) { messageId } }`,
    );
    // Long enough for the poll to reach the server on a loaded machine, well inside its 2.5 s wait.
    await sleep(600);
    const termAt = Date.now();
    a.signal('SIGTERM');
    const recovery = recoveryTime(
      [{ state: fixture.hook, ids: hookInFlight }],
      termAt,
      options.settleTimeoutMs,
    );
    const keptAlive = exchange.answers();
    let secondAt: number | null = null;
    if (options.secondSignalAfterMs !== null) {
      const delay = options.secondSignalAfterMs;
      void sleep(delay).then(() => {
        secondAt = Date.now();
        a.signal('SIGINT');
      });
    }
    // Ask A for new work while it drains; over a kept-alive connection it answers, a new one is refused.
    const drainAnswers: Record<string, number> = {};
    let exited: Exit | null = null;
    void a.exited.then((exit) => {
      exited = exit;
    });
    while (exited === null && Date.now() - termAt < options.graceMs + 10_000) {
      const answer = await gql(
        a.url,
        'mutation ($t: String!) { publish(input: { topic: $t, payload: { probe: true } }) { messageId } }',
        { t: TOPIC },
        2_000,
      );
      const key =
        answer.kind === 'answer'
          ? `${answer.status} ${codeOf(answer) ?? 'OK'} retry-after=${answer.headers.get('retry-after') ?? '-'}`
          : 'no answer';
      drainAnswers[key] = (drainAnswers[key] ?? 0) + 1;
      await sleep(25);
    }
    const exit = await a.exited;
    const exitAt = Date.now();
    aUp = false;
    aPorts.stop();
    // The drain begins right after this line (server/index.ts); the signal itself may wait a moment.
    const drainAt =
      a
        .logLines()
        .map((line) => (String(line.msg).startsWith('Shutting down') ? Number(line.time) : Number.NaN))
        .find((time) => Number.isFinite(time)) ?? termAt;
    const startsByA = fixture.receiver.requests.filter(
      (request) => request.startedAt >= watchedFrom && aPorts.owned(request.remotePort, request.startedAt),
    );
    const heldStarts = startsByA.filter((request) => request.startedAt <= drainAt);
    const lastHeldStart = heldStarts.length === 0 ? null : Math.max(...heldStarts.map((r) => r.startedAt));
    fixture.receiver.respond = () => ({ status: 204 });

    // What A's subscriber held must reach the other consumers at once (not after its visibility
    // timeout): when each arrived elsewhere, counted from the SIGTERM.
    const arrivedAt = (id: string) =>
      [...other.got, ...puller.got].find((entry) => entry.at >= termAt && entry.messageId === id)?.at ?? null;
    const handBackDeadline = termAt + options.settleTimeoutMs;
    while (held.some((id) => arrivedAt(id) === null) && Date.now() < handBackDeadline) await sleep(50);
    const handBackEach = held.map((id) => {
      const at = arrivedAt(id);
      return at === null ? null : at - termAt;
    });
    const handBackMs = handBackEach.some((ms) => ms === null)
      ? null
      : Math.max(0, ...handBackEach.map((ms) => ms ?? 0));

    await sleep(1_000);
    await load.stop();
    const check = async () =>
      verdict(load.publishes, [
        { queue: HOOK_QUEUE, seen: webhookSeen(fixture.receiver, runId), dead: await fixture.hook.deadIds() },
        {
          queue: WORK_QUEUE,
          seen: [...holder.got, ...other.got, ...puller.got],
          dead: await fixture.work.deadIds(),
        },
      ]);
    const settled = await waitUntilSettled(check, [fixture.hook, fixture.work], options.settleTimeoutMs);
    const seenAfter = new Map<string, number>();
    for (const entry of webhookSeen(fixture.receiver, runId)) {
      seenAfter.set(entry.messageId, (seenAfter.get(entry.messageId) ?? 0) + 1);
    }
    const redelivered = hookInFlight.filter(
      (id) => (seenAfter.get(id) ?? 0) > Math.max(1, seenBefore.get(id) ?? 0),
    ).length;
    const second: number | null = secondAt;
    const { first, second: next } = await keptAlive;
    const codeIn = (answer: RawAnswer) =>
      (JSON.parse(answer.body || '{}') as { errors?: Array<{ extensions?: { code?: string } }> }).errors?.[0]
        ?.extensions?.code ?? null;
    return {
      exit,
      keptAlive: {
        first: first?.status ?? null,
        second: next
          ? { status: next.status, code: codeIn(next), retryAfter: next.headers['retry-after'] ?? null }
          : null,
      },
      webhookRecoveryMs: await recovery,
      exitMs: exitAt - termAt,
      exitAfterSecondSignalMs: second === null ? null : exitAt - second,
      drainAnswers,
      websocketCloses: [...new Set(holder.closes)],
      websocketClosedMs: (holder.closedAt.find((at) => at >= termAt) ?? termAt - 1) - termAt,
      webhookStartsByA: startsByA.length,
      webhookStartsByAAfterTerm: startsByA
        .filter((request) => request.startedAt > drainAt)
        .map((request) => request.startedAt - drainAt),
      exitAfterHeldAnsweredMs:
        lastHeldStart === null ? null : exitAt - (lastHeldStart + options.receiverDelayMs),
      webhookInFlight: hookInFlight.length,
      webhookInFlightRedelivered: redelivered,
      consumerHeld: held.length,
      handBackEach,
      workBacklogAtTerm: workBacklog,
      handBackMs,
      verdict: settled.verdict,
      lost: settled.verdict.queues.reduce((sum, queue) => sum + queue.lost, 0),
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await load.stop();
    await Promise.allSettled([holder.stop(), other.stop(), puller.stop()]);
    await fixture.close();
  }
}

/**
 * Which local ports process `pid` has TCP connections from to `remotePort` on loopback, polled every
 * 50 ms from /proc (the process's socket inodes against the namespace's TCP table): tells its webhook
 * POSTs apart from another gateway's at the receiver. Each port is kept with when it was first and
 * last seen, so that a port the kernel hands to the other process later is not mistaken for this one's.
 */
function watchTcpPorts(pid: number, remotePort: number) {
  const seen = new Map<number, { first: number; last: number }>();
  let stopped = false;
  const poll = async () => {
    for (let i = 0; i < 20 * 120 && !stopped; i++) {
      const now = Date.now();
      for (const port of await tcpPortsTo(pid, remotePort)) {
        const entry = seen.get(port);
        if (entry) entry.last = now;
        else seen.set(port, { first: now, last: now });
      }
      await sleep(50);
    }
  };
  const polling = poll();
  return {
    stop(): void {
      stopped = true;
      void polling;
    },
    /** Whether `port` was this process's at about `at` (a poll's slack either side). */
    owned(port: number | null, at: number): boolean {
      const entry = port === null ? undefined : seen.get(port);
      return entry !== undefined && at >= entry.first - 200 && at <= entry.last + 200;
    },
  };
}

async function tcpPortsTo(pid: number, remotePort: number): Promise<number[]> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  const inodes = new Set<string>();
  for (const fd of fds) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(link);
    if (match?.[1]) inodes.add(match[1]);
  }
  const table = await readFile(`/proc/${pid}/net/tcp`, 'utf8').catch(() => '');
  const ports: number[] = [];
  for (const line of table.split('\n').slice(1)) {
    const columns = line.trim().split(/\s+/);
    const [local, remote, inode] = [columns[1], columns[2], columns[9]];
    if (!local || !remote || !inode || !inodes.has(inode)) continue;
    if (Number.parseInt(remote.split(':')[1] ?? '', 16) === remotePort) {
      ports.push(Number.parseInt(local.split(':')[1] ?? '', 16));
    }
  }
  return ports;
}
