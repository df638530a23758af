/** Live rates, latency percentiles and queue depths, from the `stats` stream. */
import { formatDuration, formatNumber, h, replaceChildren, table } from './dom.js';
import { subscribe } from './gateway.js';
import { sparkline } from './sparkline.js';
import { showError } from './status.js';
import type { QueueSummary, Stats } from './types.js';

const STATS = /* GraphQL */ `
  subscription DashboardStats {
    stats(intervalMs: 1000) {
      at publishedPerSecond deliveredPerSecond failedPerSecond
      latencyP50Ms latencyP95Ms latencyP99Ms deadLettered
      queues { topic name target paused stats { waiting active delayed failed deadLettered oldestWaitingAgeMs } }
    }
  }
`;
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

function queueRow(queue: QueueSummary) {
  const { stats } = queue;
  return [
    queue.topic,
    queue.name,
    queue.target,
    formatNumber(stats.waiting),
    stats.oldestWaitingAgeMs === null ? '—' : formatDuration(stats.oldestWaitingAgeMs),
    formatNumber(stats.active),
    formatNumber(stats.delayed),
    formatNumber(stats.failed),
    formatNumber(stats.deadLettered),
    queue.paused ? 'paused' : 'running',
  ];
}

export function mountOverview(root: HTMLElement): () => void {
  const published: number[] = [];
  const delivered: number[] = [];
  replaceChildren(root, h('p', { class: 'muted' }, 'Waiting for the first figures…'));
  return subscribe<{ stats: Stats }>(
    STATS,
    {},
    {
      next({ stats }) {
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
            [
              'topic',
              'queue',
              'target',
              'waiting',
              'lag',
              'active',
              'delayed',
              'failed',
              'dead letters',
              'state',
            ],
            stats.queues,
            queueRow,
            'No queues yet.',
          ),
        );
      },
      error: showError,
    },
  );
}
