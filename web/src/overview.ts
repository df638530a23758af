/**
 * Live rates, latency percentiles and queue depths: the figures of now over HTTP at once, then the
 * `stats` stream.
 */
import {
  DashboardStatsDocument,
  type DashboardStatsFieldsFragment,
  DashboardStatsNowDocument,
} from '../../client/generated/graphql.js';
import { type Child, formatDuration, formatNumber, h, replaceChildren, table } from './dom.js';
import { request, subscribe } from './gateway.js';
import { sparkline } from './sparkline.js';
import { showError } from './status.js';

type Stats = DashboardStatsFieldsFragment;
type QueueSummary = Stats['queues'][number];

/** One minute of history at the one-second interval. */
const HISTORY = 60;

function card(label: string, value: string, name: string): HTMLElement {
  return h(
    'div',
    { class: 'card', 'data-figure': name },
    h('span', { class: 'label' }, label),
    h('strong', {}, value),
  );
}

/** Each column's header beside its cell, so the two cannot drift apart (issue 17). */
const QUEUE_COLUMNS: ReadonlyArray<readonly [header: string, cell: (queue: QueueSummary) => Child]> = [
  ['topic', (queue) => queue.topic],
  ['queue', (queue) => queue.name],
  ['target', (queue) => queue.target],
  ['waiting', (queue) => formatNumber(queue.stats.waiting)],
  [
    'lag',
    (queue) =>
      queue.stats.oldestWaitingAgeMs === null ? '—' : formatDuration(queue.stats.oldestWaitingAgeMs),
  ],
  ['active', (queue) => formatNumber(queue.stats.active)],
  ['delayed', (queue) => formatNumber(queue.stats.delayed)],
  ['failed', (queue) => formatNumber(queue.stats.failed)],
  ['dead letters', (queue) => formatNumber(queue.stats.deadLettered)],
  ['state', (queue) => (queue.paused ? 'paused' : 'running')],
];

export function mountOverview(root: HTMLElement): () => void {
  const published: number[] = [];
  const delivered: number[] = [];
  let streamed = false;
  let stopped = false;

  function show(stats: Stats): void {
    published.push(stats.publishedPerSecond);
    delivered.push(stats.deliveredPerSecond);
    if (published.length > HISTORY) published.shift();
    if (delivered.length > HISTORY) delivered.shift();
    replaceChildren(
      root,
      h(
        'section',
        { class: 'cards' },
        card('published/s', formatNumber(stats.publishedPerSecond), 'published'),
        card('delivered/s', formatNumber(stats.deliveredPerSecond), 'delivered'),
        card('failed/s', formatNumber(stats.failedPerSecond), 'failed'),
        card('P50 ms', formatNumber(stats.latencyP50Ms), 'p50'),
        card('P95 ms', formatNumber(stats.latencyP95Ms), 'p95'),
        card('P99 ms', formatNumber(stats.latencyP99Ms), 'p99'),
        card('dead letters', formatNumber(stats.deadLettered), 'dead-lettered'),
      ),
      h(
        'section',
        { class: 'chart' },
        h('h2', {}, 'Last minute'),
        sparkline([
          { name: 'published/s', values: published, className: 'published' },
          { name: 'delivered/s', values: delivered, className: 'delivered' },
        ]),
      ),
      h('h2', {}, 'Queues'),
      table(
        QUEUE_COLUMNS.map(([header]) => header),
        stats.queues,
        (queue) => QUEUE_COLUMNS.map(([, cell]) => cell(queue)),
        'No queues yet.',
      ),
    );
  }

  replaceChildren(root, h('p', { class: 'muted' }, 'Loading…'));
  // The figures of now at once, over plain HTTP: the stream's first push waits for the websocket,
  // which a proxy may hold up or refuse. Once the stream has pushed, a late answer here is older news.
  request(DashboardStatsNowDocument).then(
    ({ stats }) => {
      if (!stopped && !streamed) show(stats);
    },
    (error: unknown) => {
      if (!stopped) showError(error);
    },
  );
  const stopStream = subscribe(
    DashboardStatsDocument,
    {},
    {
      next({ stats }) {
        streamed = true;
        show(stats);
      },
      error: showError,
    },
  );
  return () => {
    stopped = true;
    stopStream();
  };
}
