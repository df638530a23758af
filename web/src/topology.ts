/** Topics and their queues, with counters, circuit breakers, and pause / resume. */
import {
  button,
  type Child,
  formatDuration,
  formatNumber,
  formatTime,
  h,
  replaceChildren,
  table,
} from './dom.js';
import { request } from './gateway.js';
import { reported, showStatus } from './status.js';
import type { QueueCounts } from './types.js';

const TOPOLOGY = /* GraphQL */ `
  query DashboardTopology {
    topics {
      name kind description createdAt
      stats { published unrouted deadLettered }
      queues {
        name target url bindingKey deliveryMode concurrency maxPriority paused
        retry { maxAttempts backoff }
        stats { waiting active delayed failed deadLettered oldestWaitingAgeMs }
        circuit { state consecutiveFailures openUntil }
      }
    }
  }
`;
const PAUSE =
  'mutation DashboardPause($topic: String!, $name: String!) { pauseQueue(topic: $topic, name: $name) { paused } }';
const RESUME =
  'mutation DashboardResume($topic: String!, $name: String!) { resumeQueue(topic: $topic, name: $name) { paused } }';
const REFRESH_MS = 5_000;

interface TopologyQueue {
  name: string;
  target: 'WEBHOOK' | 'CONSUMER';
  url: string | null;
  bindingKey: string | null;
  deliveryMode: string;
  concurrency: number;
  maxPriority: number;
  paused: boolean;
  retry: { maxAttempts: number; backoff: string };
  stats: QueueCounts;
  circuit: { state: string; consecutiveFailures: number; openUntil: string | null };
}

interface TopologyTopic {
  name: string;
  kind: string;
  description: string | null;
  createdAt: string;
  stats: { published: number; unrouted: number; deadLettered: number };
  queues: TopologyQueue[];
}

function circuitText(circuit: TopologyQueue['circuit']): string {
  if (circuit.state === 'CLOSED')
    return circuit.consecutiveFailures ? `closed (${circuit.consecutiveFailures} failing)` : 'closed';
  return circuit.openUntil
    ? `${circuit.state.toLowerCase()} until ${formatTime(circuit.openUntil)}`
    : circuit.state.toLowerCase();
}

export function mountTopology(root: HTMLElement): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  async function load(): Promise<void> {
    clearTimeout(timer);
    await reported(async () => {
      const { topics } = await request<{ topics: TopologyTopic[] }>(TOPOLOGY);
      if (!stopped) render(topics);
    });
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  }

  function setPaused(topic: string, queue: TopologyQueue, paused: boolean) {
    return reported(async () => {
      await request(paused ? PAUSE : RESUME, { topic, name: queue.name });
      showStatus(`${topic}/${queue.name} ${paused ? 'paused' : 'resumed'}`);
      await load();
    });
  }

  /**
   * Each column's header beside its cell, so the two cannot drift apart: a lag cell once went in
   * without its header and shifted every later value one column to the left (issue 17).
   */
  const columns: ReadonlyArray<
    readonly [header: string, cell: (topic: string, queue: TopologyQueue) => Child]
  > = [
    ['queue', (_topic, queue) => h('span', { 'data-queue': queue.name }, queue.name)],
    ['binding', (_topic, queue) => queue.bindingKey ?? '—'],
    ['target', (_topic, queue) => (queue.target === 'WEBHOOK' ? `webhook ${queue.url ?? ''}` : 'consumer')],
    ['mode', (_topic, queue) => queue.deliveryMode.toLowerCase().replaceAll('_', '-')],
    ['waiting', (_topic, queue) => formatNumber(queue.stats.waiting)],
    [
      'lag',
      (_topic, queue) =>
        queue.stats.oldestWaitingAgeMs === null ? '—' : formatDuration(queue.stats.oldestWaitingAgeMs),
    ],
    ['active', (_topic, queue) => formatNumber(queue.stats.active)],
    ['delayed', (_topic, queue) => formatNumber(queue.stats.delayed)],
    ['dead letters', (_topic, queue) => formatNumber(queue.stats.deadLettered)],
    ['circuit', (_topic, queue) => (queue.target === 'WEBHOOK' ? circuitText(queue.circuit) : '—')],
    [
      '',
      (topic, queue) =>
        queue.paused
          ? button('Resume', () => setPaused(topic, queue, false), { 'data-action': 'resume' })
          : button('Pause', () => setPaused(topic, queue, true), { 'data-action': 'pause' }),
    ],
  ];

  function render(topics: readonly TopologyTopic[]): void {
    if (topics.length === 0) {
      replaceChildren(
        root,
        h('p', { class: 'muted' }, 'No topics yet: create one with createTopic (GraphiQL at /graphql).'),
      );
      return;
    }
    replaceChildren(
      root,
      ...topics.map((topic) =>
        h(
          'section',
          { class: 'topic', 'data-topic': topic.name },
          h('h2', {}, topic.name, ' ', h('span', { class: 'kind' }, topic.kind)),
          topic.description ? h('p', { class: 'muted' }, topic.description) : null,
          h(
            'p',
            { class: 'muted' },
            `published ${formatNumber(topic.stats.published)} · unrouted ${formatNumber(topic.stats.unrouted)} · dead letters ${formatNumber(topic.stats.deadLettered)} · created ${formatTime(topic.createdAt)}`,
          ),
          table(
            columns.map(([header]) => header),
            topic.queues,
            (queue) => columns.map(([, cell]) => cell(topic.name, queue)),
            'No queues bound.',
          ),
        ),
      ),
    );
  }

  replaceChildren(root, h('p', { class: 'muted' }, 'Loading…'));
  void load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
