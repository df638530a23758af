/** Plain-text tables of the fault scenarios' figures, printed by the tests and by `npm run faults`. */
import type { LoadRunResult } from './scenarios/load-run.js';
import type { ReceiversResult } from './scenarios/receivers.js';
import type { OutageResult } from './scenarios/redis-outage.js';
import type { SigtermResult } from './scenarios/sigterm.js';

export function table(header: string[], rows: Array<Array<string | number | null>>): string {
  const cells = [header, ...rows.map((row) => row.map((cell) => (cell === null ? '—' : String(cell))))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  return [
    line(cells[0] ?? []),
    line(widths.map((width) => '-'.repeat(width))),
    ...cells.slice(1).map(line),
  ].join('\n');
}

const seconds = (ms: number | null) => (ms === null ? null : (ms / 1000).toFixed(1));

export function formatLoadRun(title: string, result: LoadRunResult): string {
  const { published } = result.verdict;
  return [
    `${title} (seed ${result.seed}, ${result.seconds.toFixed(0)} s)`,
    `published: ${published.ok} acknowledged, ${published.error} answered an error, ${published.unknown} unanswered; ` +
      `${published.keyed} with idempotency keys, ${published.batched} in batches`,
    table(
      [
        'fault',
        'at s',
        'in flight (webhook + consumer)',
        'duplicates',
        'lost',
        'recovery s (webhook / consumer)',
        'restart s',
      ],
      result.faults.map((kill) => [
        kill.fault,
        seconds(kill.atMs),
        `${kill.inFlight} (${kill.webhookInFlight} + ${kill.consumerInFlight})`,
        kill.duplicates,
        kill.lost,
        `${seconds(kill.webhookRecoveryMs) ?? '—'} / ${seconds(kill.consumerRecoveryMs) ?? '—'}`,
        seconds(kill.restartMs),
      ]),
    ),
    table(
      ['queue', 'delivered', 'dead-lettered', 'duplicates', 'lost'],
      result.verdict.queues.map((queue) => [
        queue.queue,
        queue.delivered,
        queue.deadLettered,
        queue.duplicates,
        queue.lost,
      ]),
    ),
    `errored but stored: ${result.verdict.erroredButStored.length}; half-stored fan-outs: ${result.verdict.halfStored.length}; ` +
      `stored twice: ${result.verdict.doubleStored.length}; ` +
      `settled ${seconds(result.settleMs)} s after the load stopped`,
  ].join('\n');
}

export function formatOutage(result: OutageResult): string {
  const ms = (value: number) => value.toFixed(1);
  return [
    `Redis unreachable (${result.mode}, ${result.outageMs / 1000} s outage, ${result.seconds.toFixed(0)} s)`,
    table(
      ['operation', 'tries', 'p50 ms', 'p99 ms', 'max ms'],
      [
        ...Object.entries(result.byOperation).map(([name, p]) => [
          name,
          p.count,
          ms(p.p50),
          ms(p.p99),
          ms(p.max),
        ]),
        ['all', result.latency.count, ms(result.latency.p50), ms(result.latency.p99), ms(result.latency.max)],
      ],
    ),
    `slowest tries (ms into the outage: ms): ${result.slowest.map((entry) => `${entry.operation} ${entry.atMs}: ${entry.ms}`).join(', ')}`,
    `answers: ${JSON.stringify(result.codes)}; /health: ${result.health.statuses.join(', ')} (slowest ${ms(result.health.maxMs)} ms); watchdog limit at the outage ${result.watchdogLimitMs} ms`,
    `websocket subscriber told: closes ${JSON.stringify(result.subscriber.closes)}, errors ${JSON.stringify(result.subscriber.errors)}`,
    `deliveries resumed after Redis came back: webhook ${result.resumeMs.webhook ?? '—'} ms, consumer ${result.resumeMs.consumer ?? '—'} ms`,
    `acknowledged ${result.verdict.published.ok}, lost ${result.lost}, errored but stored ${result.verdict.erroredButStored.length}, half-stored ${result.verdict.halfStored.length}`,
  ].join('\n');
}

export function formatSigterm(title: string, result: SigtermResult): string {
  return [
    `${title} (${result.seconds.toFixed(0)} s)`,
    `exit ${JSON.stringify(result.exit)} ${(result.exitMs / 1000).toFixed(1)} s after SIGTERM` +
      (result.exitAfterSecondSignalMs === null
        ? ''
        : `, ${result.exitAfterSecondSignalMs} ms after the second signal`),
    `kept-alive connection: long poll in flight at the SIGTERM answered ${result.keptAlive.first ?? '—'}, ` +
      `the next request on it: ${JSON.stringify(result.keptAlive.second)}`,
    `new requests while draining: ${JSON.stringify(result.drainAnswers)}; websocket closes: ${JSON.stringify(result.websocketCloses)}, the first ${result.websocketClosedMs} ms after the SIGTERM`,
    `webhook POSTs by the drained gateway: ${result.webhookStartsByA} from the slow receiver's start on (about 3.6 s before the SIGTERM), ` +
      `${result.webhookStartsByAAfterTerm.length} started after its drain began (${result.webhookStartsByAAfterTerm.join(', ') || '—'} ms); ` +
      (result.exitAfterSecondSignalMs === null
        ? `exit ${result.exitAfterHeldAnsweredMs ?? '—'} ms after the last delivery under way was answered`
        : 'the second signal cut the deliveries under way short'),
    `webhook deliveries under way: ${result.webhookInFlight}, delivered again: ${result.webhookInFlightRedelivered}, ` +
      `all finished ${result.webhookRecoveryMs ?? '—'} ms after the SIGTERM`,
    `unacked consumer deliveries held: ${result.consumerHeld}, all with another consumer after ${result.handBackMs ?? '—'} ms ` +
      `(each: ${result.handBackEach.join(', ')} ms; backlog then ${result.workBacklogAtTerm})`,
    `acknowledged ${result.verdict.published.ok}, answered an error ${result.verdict.published.error}, lost ${result.lost}, ` +
      `errored but stored ${result.verdict.erroredButStored.length}, half-stored ${result.verdict.halfStored.length}`,
  ].join('\n');
}

export function formatReceivers(result: ReceiversResult): string {
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
  return [
    `misbehaving webhook receivers (ackTimeoutMs ${result.ackTimeoutMs}, ${result.seconds.toFixed(0)} s)`,
    table(
      ['receiver', 'outcome', 'longest attempt ms', 'all settled after ms', 'error'],
      result.behaviours.map((entry) => [
        entry.behaviour,
        JSON.stringify(entry.outcomes),
        entry.maxAttemptMs,
        entry.settledMs,
        entry.errors[0] ?? '',
      ]),
    ),
    `gateway RSS: ${mib(result.rss.beforeBytes)} MiB before, ${mib(result.rss.maxBytes)} MiB at most, ` +
      `${mib(result.rss.afterBytes)} MiB after; the 100 MB receivers wrote ${mib(result.hugeBytesWritten)} MiB`,
  ].join('\n');
}
