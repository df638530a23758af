/**
 * Topics and their queues, with counters, circuit breakers and each webhook's concurrency now; for admin keys also the topology's
 * changes: create and delete topics and queues, edit a queue, pause and resume it, rotate a webhook's
 * signing secret (shown once) and reset its circuit breaker. Keys without `admin` see no such button,
 * and keys without `stats` see no counters (the query leaves them out, as they would be refused).
 */
import {
  DashboardDeleteQueueDocument,
  DashboardDeleteTopicDocument,
  DashboardPauseDocument,
  DashboardResetCircuitDocument,
  DashboardResumeDocument,
  DashboardRotateSecretDocument,
  DashboardTopologyDocument,
} from '../../client/generated/graphql.js';
import { CircuitState, TargetKind } from '../../client/generated/schema.js';
import type { Capabilities } from './capabilities.js';
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
import {
  type Changes,
  queueForm,
  type TopologyQueue,
  type TopologyTopic,
  topicForm,
} from './topology-forms.js';

const REFRESH_MS = 5_000;

function circuitText(circuit: NonNullable<TopologyQueue['circuit']>): string {
  if (circuit.state === CircuitState.Closed)
    return circuit.consecutiveFailures ? `closed (${circuit.consecutiveFailures} failing)` : 'closed';
  return circuit.openUntil
    ? `${circuit.state.toLowerCase()} until ${formatTime(circuit.openUntil)}`
    : circuit.state.toLowerCase();
}

const count = (value: number | undefined) => (value === undefined ? '—' : formatNumber(value));

/**
 * WEBHOOK: how many deliveries the answering instance's worker may run at once now
 * (QueueStats.concurrency: the fixed value, or where its autoscaler stands), then the range it moves
 * in; the setting alone where no figure is read (no `stats` scope, or an instance running no workers).
 */
function concurrencyCell(queue: TopologyQueue): Child {
  if (queue.target !== TargetKind.Webhook) return '—';
  const now = queue.stats?.concurrency ?? null;
  const ranged = queue.minConcurrency != null && queue.maxConcurrency != null;
  const range = ranged ? `range ${queue.minConcurrency}–${queue.maxConcurrency}` : '';
  const shown = now ?? (ranged ? null : queue.concurrency);
  return h(
    'span',
    { 'data-concurrency': now ?? '' },
    shown === null ? range : `${formatNumber(shown)}${range ? ` (${range})` : ''}`,
  );
}

/** Buttons carry a stable key, so focus survives the periodic refresh. */
const act = (label: string, run: () => unknown, key: string, name: string) =>
  button(label, () => void run(), {
    'data-action': key.split('/').pop(),
    'data-key': key,
    'aria-label': `${label.replace('…', '')} ${name}`,
  });

/**
 * Each column's header beside its cell, so the two cannot drift apart: a lag cell once went in
 * without its header and shifted every later value one column to the left (issue 17).
 */
const COLUMNS: ReadonlyArray<readonly [header: string, cell: (queue: TopologyQueue) => Child]> = [
  ['queue', (queue) => h('span', { 'data-queue': queue.name }, queue.name)],
  ['binding', (queue) => queue.bindingKey ?? '—'],
  ['target', (queue) => (queue.target === TargetKind.Webhook ? `webhook ${queue.url ?? ''}` : 'consumer')],
  ['mode', (queue) => queue.deliveryMode.toLowerCase().replaceAll('_', '-')],
  ['concurrency', concurrencyCell],
  ['waiting', (queue) => count(queue.stats?.waiting)],
  [
    'lag',
    (queue) =>
      queue.stats?.oldestWaitingAgeMs == null ? '—' : formatDuration(queue.stats.oldestWaitingAgeMs),
  ],
  ['active', (queue) => count(queue.stats?.active)],
  ['delayed', (queue) => count(queue.stats?.delayed)],
  ['dead letters', (queue) => count(queue.stats?.deadLettered)],
  [
    'circuit',
    (queue) =>
      queue.target === TargetKind.Webhook && queue.circuit
        ? h('span', { 'data-circuit': queue.circuit.state }, circuitText(queue.circuit))
        : '—',
  ],
];

/** The new secret, shown this once: closing the panel forgets it. */
function secretShownOnce(id: string, secret: string | null): HTMLElement {
  return h(
    'div',
    { class: 'once', role: 'alert' },
    h('strong', { tabindex: -1 }, `The new signing secret of ${id}, shown this once: `),
    h('code', { 'data-new-secret': '' }, secret ?? '(not answered)'),
    h('p', {}, 'Give it to the receiver now; the old secret keeps signing for the grace period.'),
  );
}

class TopologyView implements Changes {
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Forms and one-time secrets: outside the list, so the refresh never wipes what is typed. */
  readonly editor = h('section', { class: 'editor', 'aria-label': 'Edit the topology', hidden: true });
  readonly list = h('div');
  private topics: TopologyTopic[] = [];

  constructor(private readonly can: Capabilities) {}

  async load(): Promise<void> {
    clearTimeout(this.timer);
    await reported(async () => {
      const data = await request(DashboardTopologyDocument, { stats: this.can.stats });
      this.topics = data.topics;
      if (!this.stopped) this.render();
    });
    if (!this.stopped) this.timer = setTimeout(() => void this.load(), REFRESH_MS);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  open(...children: Child[]): void {
    replaceChildren(
      this.editor,
      ...children,
      ' ',
      button('Close', () => this.close(), { 'data-action': 'close-editor' }),
    );
    this.editor.hidden = false;
    this.editor.querySelector<HTMLElement>('input, select, textarea, [tabindex="-1"]')?.focus();
  }

  close(): void {
    this.editor.hidden = true;
    replaceChildren(this.editor);
  }

  /** Runs a change, reports it, reloads the list; errors stay on the status line. */
  change(action: () => Promise<string | null>): Promise<void> {
    return reported(async () => {
      const done = await action();
      if (done === null) return;
      showStatus(done);
      await this.load();
    });
  }

  private setPaused(topic: string, queue: TopologyQueue, paused: boolean) {
    return this.change(async () => {
      const variables = { topic, name: queue.name };
      if (paused) await request(DashboardPauseDocument, variables);
      else await request(DashboardResumeDocument, variables);
      return `${topic}/${queue.name} ${paused ? 'paused' : 'resumed'}`;
    });
  }

  private deleteQueue(topic: string, queue: TopologyQueue) {
    return this.change(async () => {
      if (!confirm(`Delete the queue ${topic}/${queue.name} and every message in it?`)) return null;
      await request(DashboardDeleteQueueDocument, { topic, name: queue.name });
      return `Deleted ${topic}/${queue.name}`;
    });
  }

  private deleteTopic(topic: TopologyTopic) {
    return this.change(async () => {
      if (!confirm(`Delete the topic ${topic.name}?`)) return null;
      await request(DashboardDeleteTopicDocument, { name: topic.name });
      return `Deleted topic ${topic.name}`;
    });
  }

  private rotate(topic: string, queue: TopologyQueue) {
    const id = `${topic}/${queue.name}`;
    return this.change(async () => {
      if (!confirm(`Rotate the signing secret of ${id}? The old one keeps signing for a grace period.`))
        return null;
      const { rotateSigningSecret } = await request(DashboardRotateSecretDocument, {
        topic,
        name: queue.name,
      });
      this.open(secretShownOnce(id, rotateSigningSecret.signingSecret));
      return `Rotated the signing secret of ${id}`;
    });
  }

  private resetCircuit(topic: string, queue: TopologyQueue) {
    return this.change(async () => {
      const { resetCircuit } = await request(DashboardResetCircuitDocument, { topic, name: queue.name });
      return `Circuit of ${topic}/${queue.name} reset: ${resetCircuit.circuit.state.toLowerCase()}`;
    });
  }

  private actions(topic: TopologyTopic, queue: TopologyQueue): Child {
    if (!this.can.admin) return null;
    const id = `${topic.name}/${queue.name}`;
    const webhook = queue.target === TargetKind.Webhook;
    return h(
      'span',
      { class: 'actions' },
      queue.paused
        ? act('Resume', () => this.setPaused(topic.name, queue, false), `${id}/resume`, id)
        : act('Pause', () => this.setPaused(topic.name, queue, true), `${id}/pause`, id),
      act('Edit…', () => this.open(queueForm(topic, queue, this)), `${id}/edit`, id),
      webhook ? act('Rotate secret', () => this.rotate(topic.name, queue), `${id}/rotate`, id) : null,
      webhook && queue.circuit && queue.circuit.state !== CircuitState.Closed
        ? act('Reset circuit', () => this.resetCircuit(topic.name, queue), `${id}/reset-circuit`, id)
        : null,
      act('Delete', () => this.deleteQueue(topic.name, queue), `${id}/delete`, id),
    );
  }

  private section(topic: TopologyTopic): HTMLElement {
    const stats = topic.stats;
    return h(
      'section',
      { class: 'topic', 'data-topic': topic.name },
      h('h2', {}, topic.name, ' ', h('span', { class: 'kind' }, topic.kind)),
      topic.description ? h('p', { class: 'muted' }, topic.description) : null,
      h(
        'p',
        { class: 'muted' },
        stats
          ? `published ${formatNumber(stats.published)} · unrouted ${formatNumber(stats.unrouted)} · dead letters ${formatNumber(stats.deadLettered)} · `
          : '',
        `created ${formatTime(topic.createdAt)}`,
      ),
      this.can.admin &&
        h(
          'p',
          { class: 'actions' },
          act(
            'Add queue…',
            () => this.open(queueForm(topic, null, this)),
            `${topic.name}/add-queue`,
            topic.name,
          ),
          act('Delete topic', () => this.deleteTopic(topic), `${topic.name}/delete-topic`, topic.name),
        ),
      table(
        [...COLUMNS.map(([header]) => header), ''],
        topic.queues,
        (queue) => [...COLUMNS.map(([, cell]) => cell(queue)), this.actions(topic, queue)],
        'No queues bound.',
      ),
    );
  }

  private render(): void {
    const focused =
      document.activeElement instanceof HTMLElement ? document.activeElement.dataset.key : undefined;
    const none = this.can.admin ? 'No topics yet: create one above.' : 'No topics this key can see.';
    replaceChildren(
      this.list,
      this.topics.length === 0 ? h('p', { class: 'muted' }, none) : null,
      ...this.topics.map((topic) => this.section(topic)),
    );
    if (focused) this.list.querySelector<HTMLElement>(`[data-key="${CSS.escape(focused)}"]`)?.focus();
  }
}

export function mountTopology(root: HTMLElement, can: Capabilities): () => void {
  const view = new TopologyView(can);
  replaceChildren(
    root,
    can.admin &&
      h(
        'p',
        {},
        button('New topic…', () => view.open(topicForm(view)), { 'data-action': 'new-topic' }),
      ),
    view.editor,
    view.list,
  );
  replaceChildren(view.list, h('p', { class: 'muted' }, 'Loading…'));
  void view.load();
  return () => view.stop();
}
