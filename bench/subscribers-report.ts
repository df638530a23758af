/**
 * The figures of `npm run bench:subscribers`: each phase (the gateway, the bare `ws` floor) shaped
 * into one result, a table with a column per phase, and the JSON under bench/results/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { RaisedLimits } from './fd-limit.js';
import { emptyHistogram, latencies, mergeInto } from './latency-histogram.js';
import type { PhaseMeasured } from './subscribers-run.js';

const MiB = 1024 * 1024;

export interface Targets {
  p99Ms: number;
  rssBytes: number;
}

/** 400 MiB was the first wave's bound for 1,000 subscribers; issue 24 asks < 1 GiB for 10,000. */
export const targetsFor = (subscribers: number): Targets => ({
  p99Ms: 100,
  rssBytes: subscribers > 1000 ? 1024 * MiB : 400 * MiB,
});

export function phaseResult(measured: PhaseMeasured, run: { subscribers: number; messages: number }) {
  const { clients, rss, sent, cpu, deliveringMs, elapsedMs } = measured;
  const sum = (pick: (client: PhaseMeasured['clients'][number]) => number) =>
    clients.reduce((total, client) => total + pick(client), 0);
  const fromCall = emptyHistogram();
  const fromStored = emptyHistogram();
  for (const client of clients) {
    mergeInto(fromCall, client.fromCall);
    mergeInto(fromStored, client.fromStored);
  }
  const delivered = sum((client) => client.delivered);
  const peak = Math.max(rss.subscribed, ...rss.samples.filter(Number.isFinite));
  return {
    published: run.messages - sent.failures,
    publishFailures: sent.failures,
    /** The distinct reasons, with how often each came: a failed publish is the bench's fault or the gateway's. */
    publishFailureReasons: sent.reasons,
    expectedDeliveries: run.messages * run.subscribers,
    delivered,
    subscribersWithEveryMessage: sum((client) => client.complete),
    droppedForSlowness: sum((client) => client.dropped),
    duplicates: sum((client) => client.duplicates),
    closedByServer: sum((client) => client.closedEarly),
    connectSeconds: measured.connectMs / 1000,
    // From the first publish to the last receipt.
    deliveriesPerSecond: (delivered * 1000) / deliveringMs,
    /** From the publish call (HTTP request sent) to a subscriber's receipt. */
    latencyMs: latencies(fromCall),
    /** From the message's publishedAt (stamped as the gateway stores it) to receipt: the live path. */
    livePathLatencyMs: latencies(fromStored),
    server: {
      rssIdleBytes: rss.idle,
      rssSubscribedBytes: rss.subscribed,
      rssPeakBytes: peak,
      /** What each connected, subscribed socket added to the process's RSS. */
      rssPerConnectionBytes: (rss.subscribed - rss.idle) / run.subscribers,
      cpuPercentOfOneCore: (cpu * 100_000) / elapsedMs,
      // The figure least bent by other work on the machine: CPU time per delivery.
      cpuMicrosecondsPerDelivery: delivered > 0 ? (cpu * 1e6) / delivered : Number.NaN,
    },
    clientProcessesCpuPercentOfOneCore: (sum((client) => client.cpuSeconds) * 100_000) / elapsedMs,
    loadAverage: measured.loadAverage,
  };
}

export type PhaseResult = ReturnType<typeof phaseResult>;

export function verdicts(phase: PhaseResult, targets: Targets) {
  return {
    everySubscriberEveryMessage: phase.delivered === phase.expectedDeliveries,
    p99Met: phase.latencyMs.p99 < targets.p99Ms,
    rssMet: phase.server.rssPeakBytes < targets.rssBytes,
  };
}

export interface SubscribersResult {
  benchmark: 'subscribers';
  at: string;
  /** The commit measured, and whether the work tree had changes on top of it. */
  source: { commit: string; uncommittedChanges: boolean };
  machine: { cpus: number; cpuModel: string; node: string };
  options: object;
  openFiles: RaisedLimits;
  targets: Targets;
  gateway?: PhaseResult & { targets: ReturnType<typeof verdicts> };
  floor?: PhaseResult;
}

export const machineInfo = () => ({
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  node: process.version,
});

type Row = [string, (phase: PhaseResult) => string, string];

const fixed = (digits: number) => (value: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const mib = (bytes: number) => fixed(0)(bytes / MiB);

function rows(targets: Targets): Row[] {
  const ms = fixed(1);
  return [
    ['publishes failed', (p) => String(p.publishFailures), 'reasons in the JSON'],
    ['deliveries', (p) => `${p.delivered} / ${p.expectedDeliveries}`, 'every message to every subscriber'],
    ['subscribers with every message', (p) => String(p.subscribersWithEveryMessage), ''],
    ['dropped (subscriber behind)', (p) => String(p.droppedForSlowness), 'Message.droppedBefore'],
    ['duplicates, closed by server', (p) => `${p.duplicates}, ${p.closedByServer}`, ''],
    ['connecting took (s)', (p) => fixed(1)(p.connectSeconds), ''],
    ['deliveries/s', (p) => fixed(0)(p.deliveriesPerSecond), ''],
    ['latency P50 (ms)', (p) => ms(p.latencyMs.p50), 'from the publish call'],
    ['latency P95 (ms)', (p) => ms(p.latencyMs.p95), ''],
    ['latency P99 (ms)', (p) => ms(p.latencyMs.p99), `target < ${targets.p99Ms}`],
    ['latency max (ms)', (p) => ms(p.latencyMs.max), ''],
    [
      'live path P50 / P99 (ms)',
      (p) => `${ms(p.livePathLatencyMs.p50)} / ${ms(p.livePathLatencyMs.p99)}`,
      'publishedAt to receipt',
    ],
    ['RSS idle (MiB)', (p) => mib(p.server.rssIdleBytes), 'before connecting'],
    ['RSS subscribed (MiB)', (p) => mib(p.server.rssSubscribedBytes), 'every subscriber connected'],
    ['RSS peak (MiB)', (p) => mib(p.server.rssPeakBytes), `target < ${targets.rssBytes / MiB}`],
    ['RSS per connection (KiB)', (p) => fixed(1)(p.server.rssPerConnectionBytes / 1024), ''],
    ['CPU (% of a core)', (p) => fixed(0)(p.server.cpuPercentOfOneCore), ''],
    ['CPU per delivery (µs)', (p) => fixed(1)(p.server.cpuMicrosecondsPerDelivery), ''],
    ['client processes CPU (% of a core)', (p) => fixed(0)(p.clientProcessesCpuPercentOfOneCore), 'summed'],
    [
      'load average before / after',
      (p) => `${fixed(1)(p.loadAverage.before)} / ${fixed(1)(p.loadAverage.after)}`,
      'other work on the machine',
    ],
  ];
}

/** One column per phase that ran, the target in the last. */
export function printTable(result: SubscribersResult, header: string): void {
  const phases = (
    [
      ['gateway', result.gateway],
      ['bare ws floor', result.floor],
    ] as const
  ).flatMap(([name, phase]) => (phase ? [[name, phase] as const] : []));
  const table = [
    ['', ...phases.map(([name]) => name), ''],
    ...rows(result.targets).map(([name, cell, note]) => [
      name,
      ...phases.map(([, phase]) => cell(phase)),
      note,
    ]),
  ];
  const widths =
    table[0]?.map((_, column) => Math.max(...table.map((row) => (row[column] ?? '').length))) ?? [];
  process.stdout.write(`${header}\n`);
  for (const row of table) {
    const cells = row.map((text, column) =>
      column === 0 || column === row.length - 1
        ? text.padEnd(widths[column] ?? 0)
        : text.padStart(widths[column] ?? 0),
    );
    process.stdout.write(`${cells.join('  ').trimEnd()}\n`);
  }
}

/** Writes bench/results/<name>.json; answers its path. */
export async function writeResult(result: SubscribersResult, name: string): Promise<string> {
  const out = new URL(`./results/${name}.json`, import.meta.url);
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  return fileURLToPath(out);
}
