/**
 * Charts of the last hour with uPlot, fed by the stats stream once a second into a ring buffer kept
 * for as long as the page is open (the gateway keeps no history of its own: a reload starts empty).
 * Throughput and latency percentiles are the cluster's (Stats has no per-queue rates or latency);
 * depth and lag are per queue, or summed (depth) and the worst (lag) over a topic's queues.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import {
  DashboardChartStatsDocument,
  type DashboardChartStatsSubscription,
} from '../../client/generated/graphql.js';
import { formatDuration, formatNumber, h, replaceChildren } from './dom.js';
import { subscribe } from './gateway.js';
import { Ring } from './ring.js';
import { showError } from './status.js';

/** One hour at the stream's one-second interval. */
const HOUR_OF_SAMPLES = 3_600;
const HEIGHT = 180;
const ALL = '';

type StatsPush = DashboardChartStatsSubscription['stats'];

interface Sample {
  /** Unix seconds, uPlot's x. */
  t: number;
  published: number;
  delivered: number;
  failed: number;
  p50: number;
  p95: number;
  p99: number;
  /** `topic/queue` → waiting and lag (ms; null when nothing waits). */
  queues: Map<string, { waiting: number; lagMs: number | null }>;
}

const samples = new Ring<Sample>(HOUR_OF_SAMPLES);
const listeners = new Set<() => void>();
let stopStream: (() => void) | null = null;

function record(stats: StatsPush): void {
  samples.push({
    t: Date.parse(stats.at) / 1000,
    published: stats.publishedPerSecond,
    delivered: stats.deliveredPerSecond,
    failed: stats.failedPerSecond,
    p50: stats.latencyP50Ms,
    p95: stats.latencyP95Ms,
    p99: stats.latencyP99Ms,
    queues: new Map(
      stats.queues.map((queue) => [
        `${queue.topic}/${queue.name}`,
        { waiting: queue.stats.waiting, lagMs: queue.stats.oldestWaitingAgeMs },
      ]),
    ),
  });
  for (const listener of listeners) listener();
}

/** Starts the stream on the first visit; it then fills the ring while the page stays open. */
function ensureStream(): void {
  stopStream ??= subscribe(
    DashboardChartStatsDocument,
    {},
    {
      next: ({ stats }) => record(stats),
      error(error) {
        stopStream = null;
        showError(error);
      },
    },
  );
}

/** Stops the stream and forgets the samples: the key changed. */
export function resetCharts(): void {
  stopStream?.();
  stopStream = null;
  samples.clear();
}

interface Chart {
  figure: HTMLElement;
  update(data: uPlot.AlignedData, summary: string): void;
  destroy(): void;
}

function chart(
  id: string,
  title: string,
  series: readonly { label: string; stroke: string }[],
  unit: string,
): Chart {
  const caption = h('figcaption', {}, title);
  const summary = h('p', { class: 'muted', 'data-summary': id });
  const canvas = h('div', { class: 'plot', role: 'img', 'aria-label': title });
  const figure = h('figure', { class: 'chart', 'data-chart': id }, caption, canvas, summary);
  let plot: uPlot | null = null;
  return {
    figure,
    update(data, text) {
      summary.textContent = text;
      canvas.setAttribute('aria-label', `${title}: ${text}`);
      if (plot) {
        plot.setData(data);
        return;
      }
      plot = new uPlot(
        {
          width: Math.max(300, Math.min(900, figure.clientWidth || 600)),
          height: HEIGHT,
          legend: { show: false },
          scales: { x: { time: true } },
          axes: [{}, { label: unit, size: 60 }],
          series: [{}, ...series.map((line) => ({ label: line.label, stroke: line.stroke, width: 2 }))],
        },
        data,
        canvas,
      );
    },
    destroy() {
      plot?.destroy();
      plot = null;
    },
  };
}

const last = (values: readonly (number | null)[]) => values[values.length - 1] ?? null;

type QueueFigures = { waiting: number; lagMs: number | null };

/** The queues a scope names: one queue (`topic/queue`), a topic's (`topic:name`), or every one. */
function selected(sample: Sample, scope: string): QueueFigures[] {
  const topicPrefix = scope.startsWith('topic:') ? `${scope.slice('topic:'.length)}/` : null;
  return [...sample.queues]
    .filter(([id]) => scope === ALL || (topicPrefix === null ? id === scope : id.startsWith(topicPrefix)))
    .map(([, figures]) => figures);
}

/** Depth summed over the scope's queues, and lag as the worst of them (null when nothing waits). */
function depthAndLag(all: readonly Sample[], scope: string): { depths: number[]; lags: (number | null)[] } {
  const depths = all.map((sample) => selected(sample, scope).reduce((sum, queue) => sum + queue.waiting, 0));
  const lags = all.map((sample) => {
    const waits = selected(sample, scope).flatMap((queue) => (queue.lagMs === null ? [] : [queue.lagMs]));
    return waits.length ? Math.max(...waits) : null;
  });
  return { depths, lags };
}

function clusterCharts(): { throughput: Chart; latency: Chart } {
  const throughput = chart(
    'throughput',
    'Throughput, whole cluster (messages/s)',
    [
      { label: 'published', stroke: '#2f6fde' },
      { label: 'delivered', stroke: '#15803d' },
      { label: 'failed', stroke: '#b91c1c' },
    ],
    '/s',
  );
  const latency = chart(
    'latency',
    'Publish-to-delivery latency, whole cluster (ms)',
    [
      { label: 'P50', stroke: '#15803d' },
      { label: 'P95', stroke: '#c2410c' },
      { label: 'P99', stroke: '#b91c1c' },
    ],
    'ms',
  );
  return { throughput, latency };
}

function queueCharts(): { depth: Chart; lag: Chart } {
  const depth = chart(
    'depth',
    'Depth (messages waiting)',
    [{ label: 'waiting', stroke: '#2f6fde' }],
    'messages',
  );
  const lag = chart('lag', 'Lag (oldest waiting message, ms)', [{ label: 'lag', stroke: '#c2410c' }], 'ms');
  return { depth, lag };
}

class ChartsView {
  readonly scope = h('select', { name: 'scope' }, h('option', { value: ALL }, 'every queue'));
  readonly count = h('span', { 'data-samples': '' }, String(samples.size));
  private readonly known = new Set<string>();
  private readonly cluster = clusterCharts();
  private readonly queue = queueCharts();
  readonly charts = [this.cluster.throughput, this.cluster.latency, this.queue.depth, this.queue.lag];

  /** Offers the topics and queues of the newest sample that the picker does not know yet. */
  private addScopes(sample: Sample | undefined): void {
    for (const id of sample?.queues.keys() ?? []) {
      const topic = id.slice(0, id.indexOf('/'));
      this.offer(`topic:${topic}`, `topic ${topic}`);
      this.offer(id, `queue ${id}`);
    }
  }

  private offer(value: string, label: string): void {
    if (this.known.has(value)) return;
    this.known.add(value);
    this.scope.append(h('option', { value }, label));
  }

  readonly draw = (): void => {
    const all = samples.toArray();
    this.addScopes(all[all.length - 1]);
    this.count.textContent = String(all.length);
    if (all.length === 0) return;
    const xs = all.map((sample) => sample.t);
    const now = all[all.length - 1] as Sample;
    this.cluster.throughput.update(
      [xs, all.map((s) => s.published), all.map((s) => s.delivered), all.map((s) => s.failed)],
      `now ${formatNumber(now.published)} published/s, ${formatNumber(now.delivered)} delivered/s, ${formatNumber(now.failed)} failed/s`,
    );
    this.cluster.latency.update(
      [xs, all.map((s) => s.p50), all.map((s) => s.p95), all.map((s) => s.p99)],
      `now P50 ${formatNumber(now.p50)} ms, P95 ${formatNumber(now.p95)} ms, P99 ${formatNumber(now.p99)} ms`,
    );
    const { depths, lags } = depthAndLag(all, this.scope.value);
    this.queue.depth.update([xs, depths], `now ${formatNumber(last(depths) ?? 0)} waiting`);
    const lagNow = last(lags);
    this.queue.lag.update(
      [xs, lags],
      lagNow === null ? 'now nothing waits' : `now ${formatDuration(lagNow)}`,
    );
  };
}

export function mountCharts(root: HTMLElement): () => void {
  const view = new ChartsView();
  view.scope.addEventListener('change', view.draw);
  listeners.add(view.draw);
  replaceChildren(
    root,
    h('h2', {}, 'Charts'),
    h(
      'form',
      { class: 'filter', 'aria-label': 'Chart scope' },
      h('label', {}, 'depth and lag of', view.scope),
    ),
    h(
      'p',
      { class: 'muted' },
      'The last hour, one sample a second, kept by this page while it is open (',
      view.count,
      ' samples so far). Throughput and latency are cluster-wide: the gateway has no per-queue rates yet.',
    ),
    h('div', { class: 'charts' }, ...view.charts.map((one) => one.figure)),
  );
  ensureStream();
  view.draw();
  return () => {
    listeners.delete(view.draw);
    for (const one of view.charts) one.destroy();
  };
}
