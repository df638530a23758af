/** The results of a bench run: the machine, every figure per side, and the table the issue asks for. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import type { Figure, Side, Target } from './scenario.js';
import { type Summary, summarize } from './stats.js';

export interface Machine {
  cores: number;
  cpu: string;
  kernel: string;
  node: string;
  redis: string;
  bullmq: string;
}

export interface FigureResult extends Figure {
  switchyard: Summary | null;
  raw: Summary | null;
  /** Switchyard's median over raw's. */
  ratio: number | null;
  /** One verdict per target: null when a side has no value. */
  met: (boolean | null)[];
}

export interface ScenarioResult {
  id: number;
  title: string;
  summary: string;
  figures: FigureResult[];
  errors: string[];
  seconds: number;
  /**
   * The machine's 1-minute load average when the scenario started and ended. On 2 cores anything
   * much above the bench's own share (about 3) means other work was competing with the figures.
   */
  loadAverage: [number, number];
}

export interface BenchResult {
  date: string;
  /** The commit measured, and whether the work tree had changes on top of it. */
  source: { commit: string; uncommittedChanges: boolean };
  mode: 'full' | 'quick';
  warmUp: boolean;
  rounds: number;
  payloadBytes: number;
  machine: Machine;
  scenarios: ScenarioResult[];
  /** `--cluster`: the same scenarios on a local Redis Cluster of 3 masters and 3 replicas. */
  cluster?: ScenarioResult[];
  /** `--instances=N`: the same scenarios with N gateway instances on the same Redis. */
  instances?: { count: number; scenarios: ScenarioResult[] };
}

/** Read-only git look-ups (no optional locks), so a bench run never disturbs someone's commit. */
export function source(): BenchResult['source'] {
  const git = (...args: string[]) =>
    spawnSync('git', ['--no-optional-locks', ...args], {
      encoding: 'utf8',
      cwd: new URL('..', import.meta.url),
    });
  const head = git('rev-parse', 'HEAD');
  const status = git('status', '--porcelain');
  return {
    commit: head.status === 0 ? head.stdout.trim() : 'unknown',
    uncommittedChanges: status.status !== 0 || status.stdout.trim() !== '',
  };
}

export function machine(redis: string): Machine {
  const bullmqPackage = new URL('../node_modules/bullmq/package.json', import.meta.url);
  const bullmq = (JSON.parse(readFileSync(bullmqPackage, 'utf8')) as { version: string }).version;
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    kernel: release(),
    node: process.version,
    redis,
    bullmq,
  };
}

/** Folds the measured rounds (warm-up excluded) of one scenario into its figures. */
export function figureResults(
  figures: Figure[],
  rounds: Record<Side, Record<string, number>[]>,
): FigureResult[] {
  return figures.map((figure) => {
    const side = (name: Side) => {
      const values = rounds[name]
        .map((round) => round[figure.key])
        .filter((v): v is number => v !== undefined);
      return values.length > 0 ? summarize(values) : null;
    };
    const switchyard = side('switchyard');
    const raw = side('raw');
    const ratio = switchyard && raw && raw.median !== 0 ? switchyard.median / raw.median : null;
    const met = (figure.targets ?? []).map((target) => verdict(target, switchyard, ratio));
    return { ...figure, switchyard, raw, ratio, met };
  });
}

function verdict(target: Target, switchyard: Summary | null, ratio: number | null): boolean | null {
  if (target.kind === 'switchyard-below') return switchyard ? switchyard.median < target.value : null;
  if (ratio === null) return null;
  return target.kind === 'ratio-at-least' ? ratio >= target.value : ratio <= target.value;
}

const number = (value: number, digits: number) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : 'n/a';

function cell(summary: Summary | null, digits: number): string {
  if (!summary) return '—';
  if (summary.values.length === 1) return number(summary.median, digits);
  return `${number(summary.median, digits)} (${number(summary.min, digits)}–${number(summary.max, digits)})`;
}

function targetText(target: Target, unit: string): string {
  if (target.kind === 'ratio-at-least') return `≥ ${target.value}`;
  if (target.kind === 'ratio-at-most') return `≤ ${target.value}`;
  return `S < ${target.value} ${unit}`;
}

function targetsCell(figure: FigureResult): string {
  return (figure.targets ?? [])
    .map((target, n) => {
      const met = figure.met[n];
      return `${targetText(target, figure.unit)} ${met === null ? '?' : met ? 'met' : '**missed**'}`;
    })
    .join(', ');
}

/** The table as Markdown: readable in a terminal and pasted as is into docs/PERFORMANCE.md. */
export function renderTable(result: BenchResult): string {
  const { machine: m } = result;
  const rounds =
    result.mode === 'quick'
      ? 'quick mode: one small run per side, no warm-up'
      : `warm-up + ${result.rounds} rounds, median (min–max)`;
  const loads = result.scenarios.flatMap((scenario) => scenario.loadAverage);
  const load = loads.length > 0 ? `${number(Math.min(...loads), 1)}–${number(Math.max(...loads), 1)}` : 'n/a';
  const lines = [
    `Switchyard vs raw BullMQ, ${result.date.slice(0, 10)}: ${m.cores} cores (${m.cpu}), Node ${m.node}, Redis ${m.redis}, BullMQ ${m.bullmq}; ${rounds}; payload ${result.payloadBytes} B JSON; 1-minute load average during the run ${load}.`,
    '',
    '| # | Scenario | Figure | Switchyard | raw BullMQ | Switchyard / raw | Target |',
    '|---|---|---|---:|---:|---:|---|',
  ];
  for (const scenario of result.scenarios) {
    for (const [n, figure] of scenario.figures.entries()) {
      const ratio = figure.ratio === null ? '—' : number(figure.ratio, 2);
      lines.push(
        `| ${n === 0 ? scenario.id : ''} | ${n === 0 ? scenario.title : ''} | ${figure.label} (${figure.unit}) | ${cell(figure.switchyard, figure.digits)} | ${cell(figure.raw, figure.digits)} | ${ratio} | ${targetsCell(figure)} |`,
      );
    }
    for (const error of scenario.errors)
      lines.push(`| ${scenario.id} | ${scenario.title} | **error** | ${error.split('\n')[0]} | | | |`);
  }
  return lines.join('\n');
}

/**
 * `--instances=N`: each figure with N gateways against one, Switchyard's medians, and raw BullMQ's in
 * the same two halves beside them. Raw does not change with the gateways, so its ratio is how much
 * the machine itself moved between the halves.
 */
export function renderInstancesTable(
  one: ScenarioResult[],
  several: ScenarioResult[],
  count: number,
): string {
  const lines = [
    `| # | Figure | Switchyard, 1 gateway | Switchyard, ${count} gateways | ${count} / 1 | raw BullMQ, same halves (drift) |`,
    '|---|---|---:|---:|---:|---|',
  ];
  for (const scenario of one) {
    const other = several.find((candidate) => candidate.id === scenario.id);
    for (const figure of scenario.figures) {
      const twin = other?.figures.find((candidate) => candidate.key === figure.key);
      const a = figure.switchyard?.median ?? Number.NaN;
      const b = twin?.switchyard?.median ?? Number.NaN;
      const rawA = figure.raw?.median ?? Number.NaN;
      const rawB = twin?.raw?.median ?? Number.NaN;
      lines.push(
        `| ${scenario.id} | ${figure.label} (${figure.unit}) | ${cell(figure.switchyard, figure.digits)} | ${cell(twin?.switchyard ?? null, figure.digits)} | ${number(b / a, 2)} | ${number(rawA, figure.digits)} → ${number(rawB, figure.digits)} (${number(rawB / rawA, 2)}) |`,
      );
    }
  }
  return lines.join('\n');
}

/** Targets missed, one line each, for the end of the console output. */
export function missedTargets(result: BenchResult): string[] {
  return result.scenarios.flatMap((scenario) =>
    scenario.figures.flatMap((figure) =>
      (figure.targets ?? []).flatMap((target, n) =>
        figure.met[n] === false
          ? [
              `${scenario.id}. ${scenario.title}, ${figure.label}: ${targetText(target, figure.unit)} missed (ratio ${figure.ratio === null ? 'n/a' : number(figure.ratio, 2)})`,
            ]
          : [],
      ),
    ),
  );
}

/** Writes the JSON (and the table beside it) under bench/results/; answers the paths written. */
export async function writeResults(result: BenchResult, table: string): Promise<string[]> {
  const dir = new URL('./results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  const json = `${JSON.stringify(result, null, 2)}\n`;
  const stamp = result.date.replace(/[:]/g, '-').replace(/\..*$/, '');
  // A --cluster or --instances run holds some scenarios only: it must not replace the latest full run's files.
  const kind = result.cluster ? 'cluster-' : result.instances ? 'instances-' : '';
  const names =
    result.mode === 'quick'
      ? [`${kind}quick-latest`]
      : [`${kind}latest`, kind ? `${stamp}-${kind.slice(0, -1)}` : stamp];
  const written: string[] = [];
  for (const name of names) {
    await writeFile(new URL(`${name}.json`, dir), json);
    written.push(`bench/results/${name}.json`);
  }
  await writeFile(new URL(`${names[0]}.md`, dir), `${table}\n`);
  written.push(`bench/results/${names[0]}.md`);
  return written;
}
