/** Plain-text tables of the fault scenarios' figures, printed by the tests and by `npm run faults`. */
import type { LoadRunResult } from './scenarios/load-run.js';

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
      ['fault', 'at s', 'in flight', 'duplicates', 'lost', 'recovery s', 'restart s'],
      result.faults.map((kill) => [
        kill.fault,
        seconds(kill.atMs),
        kill.inFlight,
        kill.duplicates,
        kill.lost,
        seconds(kill.recoveryMs),
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
      `settled ${seconds(result.settleMs)} s after the load stopped`,
  ].join('\n');
}
